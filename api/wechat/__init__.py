"""The WeChat channel: an Official Account (公众号) and a WeCom self-built app (企业微信) answered by PlanQA.

``crypto`` (signatures, AES), ``xml`` (parse and render), ``replies`` (layout and the 2048-byte limit),
``dialogue`` (de-duplication, rate limit, continuations, the 5-second window), ``custom`` (customer-service
messages), ``accounts`` (what is configured, built at start-up), ``routes`` (the HTTP endpoints).
"""
