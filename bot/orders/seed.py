"""Deterministic demo shop: `python -m bot.orders.seed [--if-empty] [--reset] [--show-demo]`.

All content comes from a fixed random seed; times are laid out relative to the seeding
instant (`now`) so that "shipped yesterday" or "signed for 2 days ago, still returnable"
stay true whenever the shop is seeded. Same `now` → byte-identical data.

The well-known demo orders (DEMO_ORDERS) keep fixed numbers so docs and tests can quote
them; their timestamps follow the seeding day like everything else."""

from __future__ import annotations

import argparse
import json
import random
import sys
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from .db import get_engine, init_schema, safe_url
from .models import (
    ORDER_STATUSES,
    Base,
    Customer,
    Exchange,
    Invoice,
    Order,
    OrderItem,
    Promotion,
    Refund,
    TrackingEvent,
)
from .service import mask_phone, refund_eta, return_window_open
from .timeutil import as_utc, format_shanghai, utcnow

SEED = 20250618
N_CUSTOMERS = 80
N_ORDERS = 300  # including the demo orders

DEMO_CUSTOMERS: dict[str, tuple[str, str, int]] = {
    "C0001": ("张伟", "13812341234", 3),
    "C0002": ("李娜", "15900005678", 5),
}

# role -> (order id, status, order type, customer)
_DEMO_SPEC: dict[str, tuple[str, str, str, str]] = {
    "pending_payment": ("2025061800001", "待付款", "normal", "C0001"),
    "paid": ("2025061800002", "待发货", "normal", "C0001"),
    "presale": ("2025061800003", "待发货", "presale", "C0002"),
    "shipped": ("2025061800004", "已发货", "normal", "C0001"),
    "delivered": ("2025061800005", "已签收", "normal", "C0002"),
    "delivered_old": ("2025061800006", "已签收", "normal", "C0001"),
    "cancelled": ("2025061800007", "已取消", "normal", "C0002"),
    "refunding": ("2025061800008", "退款中", "normal", "C0001"),
    "refunded": ("2025061800009", "已退款", "normal", "C0002"),
    "presale_refunding": ("2025061800010", "退款中", "presale", "C0002"),
}
DEMO_ORDERS: dict[str, str] = {role: spec[0] for role, spec in _DEMO_SPEC.items()}
DEMO_PHONE_TAILS: dict[str, str] = {
    role: DEMO_CUSTOMERS[spec[3]][1][-4:] for role, spec in _DEMO_SPEC.items()
}
DEMO_CUSTOMER_OF: dict[str, str] = {role: spec[3] for role, spec in _DEMO_SPEC.items()}

SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何林高罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘蒋蔡余杜叶程苏魏吕丁任沈姚卢"
GIVEN = [
    "伟", "芳", "娜", "敏", "静", "丽", "强", "磊", "军", "洋", "勇", "艳", "杰", "娟", "涛",
    "明", "超", "秀英", "霞", "平", "刚", "桂英", "子涵", "欣怡", "梓轩", "浩然", "雨桐", "宇航",
    "思彤", "一诺", "俊杰", "佳怡", "晨曦", "志强", "建华", "晓燕", "海燕", "文博", "雅琪", "嘉怡",
]
PHONE_PREFIXES = [f"13{d}" for d in range(10)] + [
    "150", "151", "152", "153", "155", "156", "157", "158", "159",
    "180", "181", "182", "183", "184", "185", "186", "187", "188", "189",
]
# province, city, districts, roads
REGIONS: list[tuple[str, str, tuple[str, ...], tuple[str, ...]]] = [
    ("浙江省", "杭州市", ("西湖区", "滨江区", "余杭区", "拱墅区"), ("文三路", "江南大道", "文一西路", "莫干山路")),
    ("上海市", "上海市", ("浦东新区", "徐汇区", "静安区", "闵行区"), ("世纪大道", "漕溪北路", "南京西路", "七莘路")),
    ("北京市", "北京市", ("朝阳区", "海淀区", "丰台区", "东城区"), ("建国路", "中关村大街", "丰台北路", "东直门内大街")),
    ("广东省", "广州市", ("天河区", "越秀区", "番禺区", "海珠区"), ("天河路", "中山五路", "市桥大道", "新港中路")),
    ("广东省", "深圳市", ("南山区", "福田区", "宝安区", "龙岗区"), ("科技园南路", "深南大道", "新安六路", "龙翔大道")),
    ("四川省", "成都市", ("武侯区", "锦江区", "高新区", "成华区"), ("人民南路", "春熙路", "天府大道", "建设路")),
    ("湖北省", "武汉市", ("洪山区", "江汉区", "武昌区", "江岸区"), ("珞喻路", "解放大道", "中南路", "沿江大道")),
    ("江苏省", "南京市", ("鼓楼区", "玄武区", "江宁区", "秦淮区"), ("中山北路", "珠江路", "双龙大道", "中华路")),
    ("江苏省", "苏州市", ("工业园区", "姑苏区", "吴中区", "相城区"), ("星湖街", "人民路", "东吴北路", "阳澄湖大道")),
    ("陕西省", "西安市", ("雁塔区", "碑林区", "未央区", "长安区"), ("小寨东路", "南大街", "凤城八路", "西长安街")),
    ("重庆市", "重庆市", ("渝中区", "江北区", "渝北区", "沙坪坝区"), ("解放碑步行街", "观音桥步行街", "金开大道", "三峡广场")),
    ("湖南省", "长沙市", ("岳麓区", "芙蓉区", "天心区", "雨花区"), ("麓山南路", "五一大道", "芙蓉南路", "韶山中路")),
    ("河南省", "郑州市", ("金水区", "二七区", "郑东新区", "中原区"), ("花园路", "大学路", "商务外环路", "建设西路")),
    ("山东省", "青岛市", ("市南区", "崂山区", "李沧区", "黄岛区"), ("香港中路", "海尔路", "京口路", "长江中路")),
    ("福建省", "厦门市", ("思明区", "湖里区", "集美区", "海沧区"), ("中山路", "湖里大道", "集美大道", "海沧大道")),
    ("安徽省", "合肥市", ("蜀山区", "包河区", "庐阳区", "政务区"), ("长江西路", "马鞍山路", "阜阳路", "潜山路")),
    ("辽宁省", "沈阳市", ("和平区", "沈河区", "浑南区", "皇姑区"), ("南京北街", "青年大街", "浑南中路", "北陵大街")),
    ("云南省", "昆明市", ("五华区", "盘龙区", "官渡区", "西山区"), ("东风西路", "北京路", "春城路", "滇池路")),
]
WAREHOUSES = ["杭州市", "广州市", "上海市", "北京市", "成都市", "武汉市", "苏州市", "东莞市"]
# name, tracking-number prefix, digits after the prefix
CARRIERS: list[tuple[str, str, int]] = [
    ("顺丰速运", "SF", 13),
    ("中通快递", "7", 14),
    ("圆通速递", "YT", 13),
    ("韵达快递", "43", 13),
    ("申通快递", "77", 13),
    ("京东物流", "JDV", 12),
    ("邮政EMS", "98", 11),
]
# category, name, sku, unit price, can be sold on pre-sale
CATALOG: list[tuple[str, str, str, str, bool]] = [
    ("数码", "无线蓝牙耳机", "DG-EAR-01", "199.00", False),
    ("数码", "20000mAh充电宝", "DG-PWR-02", "129.00", False),
    ("数码", "智能手表 运动版", "DG-WAT-03", "899.00", True),
    ("数码", "Type-C 快充数据线", "DG-CAB-04", "29.90", False),
    ("数码", "新款旗舰手机 256G", "DG-PHN-05", "5999.00", True),
    ("服装", "纯棉短袖T恤", "CL-TEE-01", "79.00", False),
    ("服装", "直筒牛仔裤", "CL-JNS-02", "189.00", False),
    ("服装", "轻薄羽绒服", "CL-DWN-03", "599.00", True),
    ("服装", "真丝连衣裙", "CL-DRS-04", "459.00", False),
    ("鞋靴", "透气跑步鞋", "SH-RUN-01", "369.00", False),
    ("鞋靴", "加绒雪地靴", "SH-BOT-02", "259.00", True),
    ("美妆", "保湿面霜 50g", "BT-CRM-01", "268.00", False),
    ("美妆", "哑光口红", "BT-LIP-02", "159.00", False),
    ("美妆", "清爽防晒霜", "BT-SUN-03", "119.00", False),
    ("食品", "每日坚果礼盒", "FD-NUT-01", "98.00", False),
    ("食品", "挂耳咖啡 30袋", "FD-COF-02", "69.90", False),
    ("食品", "明前龙井 250g", "FD-TEA-03", "328.00", True),
    ("家居", "全棉四件套", "HM-BED-01", "399.00", False),
    ("家居", "天然乳胶枕", "HM-PIL-02", "239.00", False),
    ("家居", "可折叠收纳箱", "HM-BOX-03", "45.80", False),
    ("家电", "智能电饭煲 4L", "EL-RIC-01", "499.00", False),
    ("家电", "无油空气炸锅", "EL-FRY-02", "329.00", True),
    ("家电", "扫地机器人", "EL-ROB-03", "1999.00", True),
    ("母婴", "婴儿纸尿裤 L码", "BB-DIA-01", "139.00", False),
    ("母婴", "玻璃奶瓶 240ml", "BB-BOT-02", "89.00", False),
    ("图书", "Python编程入门", "BK-PY-01", "69.00", False),
    ("图书", "儿童绘本套装", "BK-KID-02", "128.00", False),
    ("运动", "加厚瑜伽垫", "SP-YOG-01", "99.00", False),
    ("运动", "可调节哑铃", "SP-DUM-02", "289.00", False),
    ("宠物", "全价猫粮 10kg", "PT-CAT-01", "239.00", False),
]
COMPANIES = [
    "杭州云帆科技有限公司", "上海启明贸易有限公司", "北京星河文化传媒有限公司",
    "深圳前海数智科技有限公司", "成都锦程教育咨询有限公司", "武汉长江物流有限公司",
]
SIGNERS = ["本人签收", "家门口", "快递柜", "门卫代收", "前台代收", "驿站代收"]


@dataclass
class ShopData:
    """Everything the seed writes, as ORM objects not yet attached to a session."""

    customers: list[Customer] = field(default_factory=list)
    orders: list[Order] = field(default_factory=list)
    items: list[OrderItem] = field(default_factory=list)
    events: list[TrackingEvent] = field(default_factory=list)
    refunds: list[Refund] = field(default_factory=list)
    invoices: list[Invoice] = field(default_factory=list)
    promotions: list[Promotion] = field(default_factory=list)
    exchanges: list[Exchange] = field(default_factory=list)


class _Builder:
    """Draws the shop from one seeded RNG; the draw order is fixed, so output is too."""

    def __init__(self, now: datetime):
        self.now = as_utc(now).replace(microsecond=0)
        self.rng = random.Random(SEED)
        self.data = ShopData()
        self.order_ids: set[str] = set(DEMO_ORDERS.values())
        self.phones: set[str] = {p for _, p, _ in DEMO_CUSTOMERS.values()}
        self.customers: dict[str, Customer] = {}
        self.serial = 0

    # ---- small draws

    def ago(self, lo_hours: float, hi_hours: float) -> datetime:
        return self.now - timedelta(seconds=int(self.rng.uniform(lo_hours, hi_hours) * 3600))

    def later(self, start: datetime, lo_hours: float, hi_hours: float) -> datetime:
        """start + random delay, but never in the future."""
        t = start + timedelta(seconds=int(self.rng.uniform(lo_hours, hi_hours) * 3600))
        return min(t, self.now - timedelta(minutes=5))

    def name(self) -> str:
        return self.rng.choice(SURNAMES) + self.rng.choice(GIVEN)

    def phone(self) -> str:
        while True:
            p = self.rng.choice(PHONE_PREFIXES) + f"{self.rng.randrange(10**8):08d}"
            if p not in self.phones:
                self.phones.add(p)
                return p

    def address(self) -> tuple[str, str]:
        province, city, districts, roads = self.rng.choice(REGIONS)
        head = city if province == city else province + city
        addr = (
            f"{head}{self.rng.choice(districts)}{self.rng.choice(roads)}"
            f"{self.rng.randint(1, 999)}号{self.rng.randint(1, 20)}幢{self.rng.randint(1, 30)}0{self.rng.randint(1, 6)}室"
        )
        return addr, city

    def order_id(self, created_at: datetime) -> str:
        day = format_shanghai(created_at, "%Y%m%d")
        while True:
            oid = f"{day}{self.rng.randrange(10**5):05d}"
            if oid not in self.order_ids:
                self.order_ids.add(oid)
                return oid

    def doc_id(self, prefix: str, at: datetime) -> str:
        self.serial += 1
        return f"{prefix}{format_shanghai(at, '%Y%m%d')}{self.rng.randrange(10**4):04d}{self.serial:04d}"

    # ---- entities

    def build_customers(self) -> None:
        for cid, (name, phone, vip) in DEMO_CUSTOMERS.items():
            self.add_customer(cid, name, phone, vip)
        weights = [30, 25, 18, 12, 9, 6]
        for i in range(len(DEMO_CUSTOMERS) + 1, N_CUSTOMERS + 1):
            vip = self.rng.choices(range(6), weights=weights)[0]
            self.add_customer(f"C{i:04d}", self.name(), self.phone(), vip)

    def add_customer(self, cid: str, name: str, phone: str, vip: int) -> None:
        c = Customer(id=cid, name=name, phone=phone, vip_level=vip, created_at=self.ago(24 * 30, 24 * 900))
        self.customers[cid] = c
        self.data.customers.append(c)

    def build_order(
        self, status: str, order_type: str, customer_id: str, order_id: str | None = None,
        created_hours: tuple[float, float] | None = None, delivered_hours_ago: float | None = None,
    ) -> Order:
        rng = self.rng
        customer = self.customers[customer_id]
        ranges = {
            "待付款": (0.2, 20),
            "待发货": (2, 60) if order_type == "normal" else (24 * 2, 24 * 25),
            "已发货": (30, 24 * 7),
            "已签收": (24 * 4, 24 * 60),
            "已取消": (24, 24 * 60),
            "退款中": (24 * 1.5, 24 * 20),
            "已退款": (24 * 8, 24 * 60),
        }
        created = self.ago(*(created_hours or ranges[status]))
        oid = order_id or self.order_id(created)
        address, city = self.address()
        same_receiver = order_id is not None or rng.random() < 0.85
        order = Order(
            order_id=oid, customer_id=customer_id, status=status, order_type=order_type,
            created_at=created, address=address,
            receiver_name=customer.name if same_receiver else self.name(),
            receiver_phone=customer.phone if same_receiver else self.phone(),
        )
        # items
        pool = [c for c in CATALOG if c[4]] if order_type == "presale" else CATALOG
        total = Decimal("0")
        for cat in rng.sample(pool, rng.randint(1, 2 if order_type == "presale" else 3)):
            qty = 1 if order_type == "presale" else rng.choices([1, 2, 3], weights=[70, 22, 8])[0]
            price = Decimal(cat[3])
            total += price * qty
            self.data.items.append(OrderItem(order_id=oid, name=cat[1], sku=cat[2], qty=qty, price=price))
        order.total = total
        # life cycle
        paid = status != "待付款" and not (status == "已取消" and rng.random() < 0.5)
        if paid:
            order.paid_at = self.later(created, 0.01, 0.5)
        shipped = status in ("已发货", "已签收") or (
            status in ("退款中", "已退款") and paid and rng.random() < 0.5
        )
        if shipped and order.paid_at is not None:
            order.shipped_at = self.later(order.paid_at, 3, 40)
            delivered = status == "已签收" or (status in ("退款中", "已退款") and rng.random() < 0.6)
            if delivered_hours_ago is not None:
                order.delivered_at = self.now - timedelta(hours=delivered_hours_ago)
                order.shipped_at = min(order.shipped_at, order.delivered_at - timedelta(hours=30))
            elif delivered:
                order.delivered_at = self.later(order.shipped_at, 20, 96)
            if status == "已签收" and order.delivered_at is None:
                order.delivered_at = self.later(order.shipped_at, 20, 96)
            self.add_tracking(order, city)
        if status == "已取消" and paid:
            self.add_refund(order, self.later(order.paid_at, 0.5, 30), "取消订单")
        elif status in ("退款中", "已退款"):
            start = order.delivered_at or order.shipped_at or order.paid_at
            assert start is not None
            if status == "退款中":
                at = self.now - timedelta(hours=rng.uniform(2, 40))
                at = min(max(at, start + timedelta(minutes=30)), self.now - timedelta(minutes=1))
            else:
                at = self.later(start, 2, 72)
            reason = rng.choice(["七天无理由退货", "不想要了", "尺码不合适", "商品有质量问题", "拍错了", "发货太慢"])
            self.add_refund(order, at, reason)
        self.data.orders.append(order)
        return order

    def add_tracking(self, order: Order, dest: str) -> None:
        rng = self.rng
        carrier, prefix, digits = rng.choice(CARRIERS)
        order.carrier = carrier
        order.tracking_no = prefix + "".join(str(rng.randrange(10)) for _ in range(digits))
        origin = rng.choice(WAREHOUSES)
        courier = self.name()
        courier_phone = mask_phone(self.phone())
        short = carrier[:2]
        steps = [
            (origin, f"【{origin}】快件已由{short}揽收,揽收网点:{origin}电商仓配营业部"),
            (origin, f"【{origin}】快件已到达【{origin}转运中心】"),
            (origin, f"【{origin}】快件已从【{origin}转运中心】发出,下一站【{dest}转运中心】"),
            (dest, f"【{dest}】快件已到达【{dest}转运中心】"),
            (dest, f"【{dest}】快件已到达【{dest}城区营业部】,正在安排派送"),
            (dest, f"【{dest}】快件派送中,派送员:{courier},电话:{courier_phone},请保持电话畅通"),
        ]
        end = order.delivered_at or self.now - timedelta(minutes=10)
        start = order.shipped_at
        assert start is not None
        if order.delivered_at is not None:
            n = rng.randint(2, 5)  # plus the sign-off = 3..6 events
            chosen = [steps[0]] + sorted(rng.sample(steps[1:], n - 1), key=steps.index)
        else:
            n = rng.randint(2, 5)
            chosen = steps[:n]
        span = max((end - start).total_seconds(), 60.0)
        offsets = sorted(rng.uniform(0, span * 0.95) for _ in range(len(chosen) - 1))
        times = [start] + [start + timedelta(seconds=int(o)) for o in offsets]
        for (loc, text), t in zip(chosen, times, strict=True):
            self.data.events.append(TrackingEvent(order_id=order.order_id, time=t, location=loc, description=text))
        if order.delivered_at is not None:
            self.data.events.append(
                TrackingEvent(
                    order_id=order.order_id, time=order.delivered_at, location=dest,
                    description=f"【{dest}】快件已签收,签收人:{rng.choice(SIGNERS)},感谢使用{carrier}",
                )
            )

    def add_refund(self, order: Order, at: datetime, reason: str) -> None:
        expected = refund_eta(order.order_type, at)
        done = expected <= self.now or order.status == "已退款"
        if order.status == "退款中":
            done = False
        self.data.refunds.append(
            Refund(
                id=self.doc_id("R", at), order_id=order.order_id, amount=order.total, reason=reason,
                status="已退款" if done else "退款中", created_at=at, expected_by=expected,
            )
        )

    def build_invoices(self) -> None:
        for order in self.data.orders:
            if order.status != "已签收" or order.order_id in DEMO_ORDERS.values():
                continue
            if self.rng.random() < 0.3:
                company = self.rng.random() < 0.4
                at = self.later(order.delivered_at, 1, 48)
                tax = "91" + "".join(self.rng.choice("0123456789ABCDEFGHJKLMNPQRTUWXY") for _ in range(16))
                self.data.invoices.append(
                    Invoice(
                        id=self.doc_id("FP", at), order_id=order.order_id,
                        title=self.rng.choice(COMPANIES) if company else "个人",
                        tax_id=tax if company else None,
                        email=f"user{self.rng.randrange(10**6)}@example.com",
                        status="已开具" if at < self.now - timedelta(hours=24) else "待开具",
                        created_at=at,
                    )
                )

    def build_promotions(self) -> None:
        day = 24
        promos = [
            ("冬季焕新 满299减40", "全场实物商品单笔满299元立减40元,可与店铺券叠加。", -3 * day, 18 * day,
             {"type": "满减", "threshold": 299, "discount": 40}),
            ("新人专享 首单立减10元", "注册后首笔订单立减10元,限实物商品。", -60 * day, 300 * day,
             {"type": "首单立减", "discount": 10}),
            ("会员日 VIP3及以上95折", "每月会员日VIP3及以上会员全场95折,特价商品除外。", -1 * day, 6 * day,
             {"type": "折扣", "rate": 0.95, "min_vip": 3}),
            ("双11狂欢 满300减50", "双11期间全场满300减50,上不封顶。", -30 * day, -10 * day,
             {"type": "满减", "threshold": 300, "discount": 50, "stackable": True}),
            ("年货节预售 定金膨胀", "预售商品付定金50抵100,尾款时间另行通知。", 20 * day, 50 * day,
             {"type": "预售定金", "deposit": 50, "worth": 100}),
        ]
        for title, desc, start_h, end_h, rules in promos:
            self.data.promotions.append(
                Promotion(
                    title=title, description=desc,
                    starts_at=self.now + timedelta(hours=start_h), ends_at=self.now + timedelta(hours=end_h),
                    rules=json.dumps(rules, ensure_ascii=False, sort_keys=True),
                )
            )

    def build_exchanges(self) -> None:
        """Two exchanges, neither on a demo order nor on a demo customer's: one still running
        (its order inside the return window), and a size exchange of clothes or shoes completed
        long ago. Drawn after everything else, so the rest of the shop is as it was before."""
        delivered = sorted(
            (o for o in self.data.orders
             if o.status == "已签收" and o.delivered_at is not None
             and o.order_id not in DEMO_ORDERS.values() and o.customer_id not in DEMO_CUSTOMERS),
            key=lambda o: o.order_id,
        )
        sized = {i.order_id for i in self.data.items if i.sku.startswith(("CL-", "SH-"))}
        running = [o for o in delivered if return_window_open(o.delivered_at, self.now)]
        done = [o for o in delivered
                if o.order_id in sized and o.delivered_at <= self.now - timedelta(days=10)]
        if running:
            order = self.rng.choice(running)
            at = self.later(order.delivered_at, 1, 12)
            self.data.exchanges.append(Exchange(
                id=self.doc_id("HH", at), order_id=order.order_id, status="处理中",
                reason="收到的商品有瑕疵，换一件新的", created_at=at, updated_at=self.later(at, 1, 12),
            ))
        if done:
            order = self.rng.choice(done)
            at = self.later(order.delivered_at, 12, 120)
            self.data.exchanges.append(Exchange(
                id=self.doc_id("HH", at), order_id=order.order_id, status="已完成",
                reason="尺码偏小，想换大一码", size="大一码", created_at=at,
                updated_at=self.later(at, 72, 120),
            ))

    def build(self) -> ShopData:
        self.build_customers()
        self.build_demo()
        weights = {"待付款": 8, "待发货": 14, "已发货": 18, "已签收": 38, "已取消": 9, "退款中": 6, "已退款": 7}
        statuses = list(ORDER_STATUSES)
        customer_ids = sorted(self.customers)
        for _ in range(N_ORDERS - len(DEMO_ORDERS)):
            status = self.rng.choices(statuses, weights=[weights[s] for s in statuses])[0]
            otype = "presale" if self.rng.random() < 0.15 else "normal"
            self.build_order(status, otype, self.rng.choice(customer_ids))
        self.build_invoices()
        self.build_promotions()
        self.build_exchanges()
        return self.data

    def build_demo(self) -> None:
        specific: dict[str, dict] = {
            "shipped": {"created_hours": (50, 52)},
            "delivered": {"created_hours": (24 * 6, 24 * 6), "delivered_hours_ago": 48},
            "delivered_old": {"created_hours": (24 * 25, 24 * 25), "delivered_hours_ago": 24 * 20},
            "refunding": {"created_hours": (24 * 4, 24 * 4)},
            "presale": {"created_hours": (24 * 5, 24 * 5)},
        }
        for role, (oid, status, otype, cid) in _DEMO_SPEC.items():
            self.build_order(status, otype, cid, order_id=oid, **specific.get(role, {}))


def build_shop(now: datetime) -> ShopData:
    """The whole demo shop for seeding instant `now` (pure: no I/O)."""
    return _Builder(now).build()


def order_count(engine: Engine) -> int:
    with Session(engine, future=True) as s:
        return s.execute(select(func.count()).select_from(Order)).scalar_one()


def reset(engine: Engine) -> None:
    """Drop and recreate only the shop tables (other tables in the database are untouched)."""
    from bot.migrate import SHOP, forget

    Base.metadata.drop_all(engine)
    forget(engine, SHOP)
    init_schema(engine)


def seed(engine: Engine, now: datetime | None = None) -> dict[str, int]:
    """Write the demo shop into empty shop tables in one transaction; returns row counts."""
    init_schema(engine)
    if order_count(engine):
        raise RuntimeError("the shop tables already hold orders (use --reset or --if-empty)")
    data = build_shop(now or utcnow())
    with Session(engine, future=True) as s, s.begin():
        s.add_all(data.customers)
        s.flush()
        s.add_all(data.orders)
        s.flush()
        for rows in (data.items, data.events, data.refunds, data.invoices, data.promotions, data.exchanges):
            s.add_all(rows)
    return {
        "customers": len(data.customers), "orders": len(data.orders), "items": len(data.items),
        "tracking_events": len(data.events), "refunds": len(data.refunds),
        "invoices": len(data.invoices), "promotions": len(data.promotions),
        "exchanges": len(data.exchanges),
    }


def demo_table(engine: Engine | None = None) -> list[dict[str, str]]:
    """Rows describing the demo orders; with an engine, the live status from the database."""
    live: dict[str, str] = {}
    if engine is not None:
        with Session(engine, future=True) as s:
            live = dict(
                s.execute(select(Order.order_id, Order.status).where(Order.order_id.in_(DEMO_ORDERS.values()))).all()
            )
    return [
        {
            "role": role, "order_id": oid, "status": live.get(oid, status), "order_type": otype,
            "customer_id": cid, "phone_tail": DEMO_PHONE_TAILS[role],
        }
        for role, (oid, status, otype, cid) in _DEMO_SPEC.items()
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bot.orders.seed", description=__doc__.splitlines()[0])
    parser.add_argument("--if-empty", action="store_true", help="seed only if there are no orders yet")
    parser.add_argument("--reset", action="store_true", help="drop and recreate the shop tables first")
    parser.add_argument("--show-demo", action="store_true", help="print the well-known demo orders")
    parser.add_argument("--url", help="database URL (default: DATABASE_URL or var/shop.db)")
    args = parser.parse_args(argv)
    engine = get_engine(args.url)
    try:
        seeding = args.reset or args.if_empty or not args.show_demo
        if seeding:
            if args.reset:
                reset(engine)
            init_schema(engine)
            if order_count(engine):
                if not args.if_empty:
                    print("shop already seeded; use --reset to rebuild or --if-empty to skip", file=sys.stderr)
                    return 1
                print(f"shop already seeded ({safe_url(engine)}), nothing to do")
            else:
                counts = seed(engine)
                print(f"seeded {safe_url(engine)}: " + ", ".join(f"{k}={v}" for k, v in counts.items()))
        if args.show_demo:
            try:
                rows = demo_table(engine)
            except Exception:  # not seeded / unreachable: show the fixed spec
                rows = demo_table(None)
            print(f"{'role':<18} {'order_id':<14} {'status':<4} {'type':<8} {'customer':<8} phone_tail")
            for r in rows:
                print(
                    f"{r['role']:<18} {r['order_id']:<14} {r['status']:<4} {r['order_type']:<8} "
                    f"{r['customer_id']:<8} {r['phone_tail']}"
                )
    finally:
        engine.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main())
