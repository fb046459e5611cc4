"""WeChat Official Account channel: the callback route, its dedup table and the API client.

``protocol`` is pure (signatures, AES envelope via wechatpy 1.8.18, parsing, replies);
``callback`` is the HTTP edge with WeChat's 5-second rule; ``flows`` maps each kind of push
onto the hub's conversation engine; ``inbox`` holds the tables; ``api`` sends by the
customer-service message API. See docs/wechat.md.
"""
