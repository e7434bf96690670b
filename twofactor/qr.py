"""The QR code an authenticator app scans, drawn on the server as SVG.

It goes into the page as a data: URI image, which the Content-Security-Policy allows
(img-src data:): no script, no inline style, no other site sees the secret.
"""

import base64

import qrcode
from qrcode.image.svg import SvgPathImage


def qr_svg_data_uri(text: str) -> str:
    svg = qrcode.make(text, image_factory=SvgPathImage, border=2).to_string()
    return "data:image/svg+xml;base64," + base64.b64encode(svg).decode("ascii")
