"""Keywords are interned weakly: a JSON object key seen once is freed with the last value that holds it.

Every distinct key ever received used to stay interned for the life of the process (+115 MB for 400,000 unique
keys), and the snapshot codec kept a second table of its own. A long-running server fed by strangers cannot afford
either. Identity (``is``) stays the equality of keywords: two live keywords of one name are one object.
"""

from __future__ import annotations

import gc
import json
from pathlib import Path

import pytest

from streamrt.jsoncodec import from_json, from_json_text
from streamrt.store.codec import decode_value, encode_value
from streamrt.values import Keyword, keyword
from tests.hostile.children import run_python

pytestmark = pytest.mark.timeout(180)

# 50,000 keys a batch: tracemalloc makes each traced batch cost some 2 s of CPU (100,000 took 17 s in all, and
# timed out at 170 s on a loaded machine), and 150,000 keys kept would still be 18 times the bound below
CHILD = """
BATCH = 50_000
import gc, json, tracemalloc
from streamrt.store.codec import decode_value, encode_value
from streamrt.jsoncodec import from_json_text

def feed(first, n):
    objects = from_json_text(json.dumps([{f"key-{i}": i, "city": "Oslo"} for i in range(first, first + n)]))
    merged = {k: v for o in objects[: n // 2] for k, v in o.items()}
    decode_value(encode_value(merged, stream_id="s"), stream_id="s")

feed(0, BATCH)  # the first batch: caches, the allocator's pools, the keyword table's own size
gc.collect()
tracemalloc.start()
feed(1_000_000, BATCH)
gc.collect()
before = tracemalloc.get_traced_memory()[0]
for batch in range(2, 5):  # 150,000 more unique keys
    feed(batch * 1_000_000, BATCH)
gc.collect()
grown = tracemalloc.get_traced_memory()[0] - before
print(grown // 1024)
"""


def test_unique_keys_are_not_kept(tmp_path: Path) -> None:
    child = run_python(CHILD, cwd=tmp_path, timeout=170)
    assert child.code == 0, child.err[-2000:]
    grown_kib = int(child.out.strip())
    # 150,000 keys kept for ever were some 37 MiB; dropped, what stays is the keyword table's size, set by the
    # most keys alive at once (reached in the first batches), and a bounded cache in the codec
    assert grown_kib < 2 * 1024, f"150,000 unique keys left {grown_kib} KiB behind"


def test_live_keywords_of_one_name_are_one_object() -> None:
    held = Keyword("hostile/held")
    assert Keyword("hostile/held") is held is keyword("hostile/held")
    decoded = from_json_text(json.dumps({"hostile/held": 1}))
    assert next(iter(decoded)) is held
    assert next(iter(from_json({"hostile/held": 1}))) is held
    assert next(iter(decode_value(encode_value({held: 1}, stream_id="s"), stream_id="s"))) is held
    assert (held.namespace, held.name, repr(held)) == ("hostile", "held", ":hostile/held")


def test_a_keyword_nobody_holds_is_made_again_on_demand() -> None:
    name = "hostile/transient-key"
    first = Keyword(name)
    first_id = id(first)
    del first
    gc.collect()
    again = Keyword(name)
    assert again.qualified == name
    assert Keyword(name) is again
    assert {again: 1}[Keyword(name)] == 1
    del first_id  # the id may be reused; only identity among live keywords matters
