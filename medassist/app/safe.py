"""Text shown back in the page must not make the browser fetch anything from another machine: a model's
answer, a draft's quotes or a PDF's title could carry ![](http://…) or <img src=…>, and the browser would
load it the moment it is rendered (telling a stranger that, when and from where MedAssist was used).

    no_remote("See ![scan](http://203.0.113.9/p.png)")  # -> "See [image not loaded: scan]"

Links stay links (nothing is fetched until the user clicks one); embedded resources are written out as text.
"""
from __future__ import annotations

import re

# ![alt](url "title") with a scheme or protocol-relative URL; and reference-style ![alt][ref] definitions
_MD_IMAGE = re.compile(r"!\[([^\]\n]{0,200})\]\(\s*<?(?:[a-zA-Z][\w+.-]*:|//)[^)\n]*\)")
_MD_REF_IMAGE = re.compile(r"!\[([^\]\n]{0,200})\]\[[^\]\n]*\]")
# tags that load something by themselves; escaped even when unfinished (a stream may end mid-tag)
_TAGS = re.compile(r"<(?=\s*/?\s*(?:img|image|iframe|frame|video|audio|source|track|embed|object|link|meta|"
                   r"picture|svg|style|base|input|body|script)\b)", re.I)
_CSS_URL = re.compile(r"url\(\s*['\"]?(?:[a-zA-Z][\w+.-]*:|//)", re.I)


def no_remote(text: str) -> str:
    if not text:
        return text
    text = _MD_IMAGE.sub(lambda m: f"[image not loaded: {m.group(1) or 'image'}]", text)
    text = _MD_REF_IMAGE.sub(lambda m: f"[image not loaded: {m.group(1) or 'image'}]", text)
    text = _TAGS.sub("&lt;", text)
    return _CSS_URL.sub("url(blocked:", text)
