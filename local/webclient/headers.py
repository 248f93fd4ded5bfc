"""Security and caching headers of the web client's responses.

The Content-Security-Policy allows scripts, styles and connections from this origin only: no
inline script or style, no ``eval``, nothing from a CDN. Model output is rendered as sanitised
HTML (DOMPurify), and this policy is the second wall: even markup that slipped through could not
run a script, load a tracking image from elsewhere or send data to another host.
"""

from __future__ import annotations

CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        # data: for small inline images a model may emit; never another host (no tracking pixels).
        "img-src 'self' data:",
        "connect-src 'self'",
        "font-src 'self'",
        "manifest-src 'self'",
        "base-uri 'none'",
        "form-action 'none'",
        "frame-ancestors 'none'",
        "object-src 'none'",
    ]
)

SECURITY_HEADERS = {
    "content-security-policy": CONTENT_SECURITY_POLICY,
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "x-frame-options": "DENY",
    "cross-origin-opener-policy": "same-origin",
    "cross-origin-resource-policy": "same-origin",
    "permissions-policy": "camera=(), microphone=(), geolocation=(), payment=(), usb=()",
}

# The build id is in every asset URL, so an asset never changes under its URL.
IMMUTABLE = "public, max-age=31536000, immutable"
# The page names the current build: always revalidated (cheap, with its ETag).
REVALIDATE = "no-cache"
