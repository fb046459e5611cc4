"""Demo accounts and canned replies (标准话术), created only when absent."""

from __future__ import annotations

import asyncio
import secrets
from dataclasses import dataclass

from sqlalchemy.exc import IntegrityError

from handoff.auth import hash_password
from handoff.store import Store

DEMO_AGENTS = (
    # username, display name, role, skills
    ("supervisor", "主管 王敏", "supervisor", ("orders", "refunds", "payments", "account", "general")),
    ("agent1", "客服 小李", "agent", ("orders", "general")),
    ("agent2", "客服 小陈", "agent", ("refunds", "payments", "account")),
)

CANNED_REPLIES = (
    ("问候", "您好，我是人工客服，很高兴为您服务。请问有什么可以帮您？"),
    ("核实身份", "为了保护您的账户安全，请提供订单收货手机号的后 4 位，核实后我马上为您查询。"),
    ("退款时效", "退款审核通过后，普通订单的款项会在 72 小时内原路退回；预售订单在 15 个工作日内退回，请您留意。"),
    ("七天无理由", "本店支持七天无理由退货：商品签收后 7 天内，不影响二次销售即可申请退货。"),
    ("查询中", "我正在为您查询，请稍等 1–2 分钟，感谢您的耐心。"),
    ("重复扣款", "非常抱歉给您带来困扰。重复扣款我们已优先处理，多扣的款项核实后将原路退回，请您放心。"),
    ("账号被盗", "请您先修改登录密码并解绑陌生设备，我们已将您的账号安全问题升级为最高优先级处理。"),
    ("物流催促", "已为您联系快递公司催促派送，有新的物流信息会第一时间通知您。"),
    ("安抚致歉", "非常抱歉让您有不好的体验，您的问题我会负责跟进到底，请您放心。"),
    ("结束语", "请问还有其他可以帮您的吗？感谢您的耐心，祝您生活愉快！"),
)


# A customer with orders in the demo order database (bot/orders/seed.py): the signed-in demo link.
DEMO_CUSTOMER = ("C0001", "张伟")

DEMO_PASSWORD_ENV = {
    "supervisor": "HUB_SUPERVISOR_PASSWORD",
    "agent1": "HUB_AGENT1_PASSWORD",
    "agent2": "HUB_AGENT2_PASSWORD",
}


@dataclass
class SeededAccount:
    username: str
    role: str
    password: str | None  # None: the account existed; its password is unchanged
    display_name: str = ""


async def seed_demo(store: Store, passwords: dict[str, str] | None = None) -> list[SeededAccount]:
    """Create missing demo accounts (given or generated passwords) and the canned replies."""
    passwords = passwords or {}
    out: list[SeededAccount] = []
    for username, name, role, skills in DEMO_AGENTS:
        if await store.agents.by_username(username) is not None:
            out.append(SeededAccount(username, role, None, name))
            continue
        password = passwords.get(username) or secrets.token_urlsafe(9)
        pw_hash = await asyncio.to_thread(hash_password, password)
        try:
            await store.agents.create(username, name, pw_hash, role, skills, max_chats=5)
            out.append(SeededAccount(username, role, password, name))
        except IntegrityError:  # another hub process created it at the same moment
            out.append(SeededAccount(username, role, None, name))
    if await store.canned.count() == 0:
        for title, text in CANNED_REPLIES:
            await store.canned.add(title, text, None)
    return out


async def reset_password(store: Store, username: str, password: str | None = None) -> str:
    """Give an existing account a new password (generated unless given) and end its sessions."""
    agent = await store.agents.by_username(username)
    if agent is None:
        raise LookupError(f"no account named {username!r}")
    password = password or secrets.token_urlsafe(9)
    await store.agents.set_password(agent["id"], await asyncio.to_thread(hash_password, password))
    return password
