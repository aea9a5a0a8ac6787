"""One TLS context per HTTP library for every client this process builds.

Clients are kept and shared (providers/clients.py), yet each distinct one is still built once,
and an HTTP client left to itself loads the CA bundle into an SSL context of its own each time:
tens of milliseconds, and native memory that the allocator does not give back — RSS crept up by
about 10 MiB per 100 clients in the soak (benchmarks/soak.py). A context is safe to share
between clients and threads. Each library keeps its own defaults (httpx2 the system trust
store, httpx certifi's bundle), and SSL_CERT_FILE / SSL_CERT_DIR are read once, when the first
client is built.
"""

from __future__ import annotations

import functools
import ssl


@functools.cache
def httpx2_context() -> ssl.SSLContext:
    """For the SDKs on httpx2 (openai, anthropic, google-genai)."""
    import httpx2

    return httpx2.create_ssl_context()


@functools.cache
def aiohttp_context() -> ssl.SSLContext:
    """For google-genai's async side on aiohttp: the context it would build itself."""
    import os

    import certifi

    return ssl.create_default_context(
        cafile=os.environ.get("SSL_CERT_FILE", certifi.where()),
        capath=os.environ.get("SSL_CERT_DIR"),
    )


@functools.cache
def httpx_context() -> ssl.SSLContext:
    """For the SDKs on httpx (ollama)."""
    import httpx

    return httpx.create_ssl_context()
