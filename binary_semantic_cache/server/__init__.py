"""An OpenAI-compatible caching server: any client in any language, by changing its ``base_url``.

``bsc-cache serve --upstream URL`` runs it (needs ``pip install "bsc-cache[server]"``); in Python,
:func:`binary_semantic_cache.server.app.create_app` gives the ASGI application. It is a third front
door on the :class:`~binary_semantic_cache.request_engine.RequestEngine` of the LangChain and
LlamaIndex adapters: the chat context is matched exactly, the last user message by meaning.
This package's ``__init__`` imports nothing, so the command line loads without the extra.
"""
