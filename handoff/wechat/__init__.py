"""WeChat Official Account channel: protocol helpers (signatures, AES envelope, parsing, replies).

Built on wechatpy 1.8.18 (last stable release; 2.0 is alpha) for parsing, crypto and replies.
These functions are pure so the callback handler stays a thin I/O edge.
"""
