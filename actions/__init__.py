"""Custom actions for the rasa-sdk action server (`rasa run actions --actions actions`).

verification.py  identity check before any order detail (logged-in customer or order
                 number + phone tail form, 3 attempts)
orders.py        status, logistics, cancel, modify, invoice, promotions
aftersales.py    refund, return/exchange, complaint record, payment/account triage
faq.py           action_answer_faq: FAQ answers, elliptical follow-ups read in context
confirm.py       action_confirm: the only action that writes, after a yes to a card
handoff.py       action_handoff and its {"handoff": {...}} payload for the hub
common.py        order service, tracker helpers, message metadata (customer_id, channel)
"""
