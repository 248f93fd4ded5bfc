"""The public retrieval test sets the quality benchmark reads (``tests/benchmarks/testsets``).

Each set is BEIR's shape: a corpus (id -> title and text), queries (id -> text) and graded
relevance judgements (query id -> document id -> grade). Where the files came from, their
checksums and licences: ``testsets/README.md``. Every file is checked against its recorded sha256
before it is read, so a changed copy cannot quietly change the figures.
"""

from __future__ import annotations

import ast
import csv
import gzip
import hashlib
import io
import json
import re
import zipfile
from dataclasses import dataclass
from pathlib import Path

DATA = Path(__file__).with_name("testsets")

SCIFACT_ZIP_SHA256 = "a798a7046af0f6fa04476448459ce7cafeea5bd90d4d99c53a0e27dc5e1a4673"
DBPEDIA_SHA256 = {
    # The corpus is stored gzipped; the checksum is of the uncompressed source file.
    "corpus.jsonl": "61b717c96ff548d27ad3d7fbfc2682c43daa538e3e9d0cd39d4ae9e99c1d306c",
    "queries.jsonl": "93f48e1e465351fbb8d3b5c711c08034e1277e1225553230341bad7e39f16362",
    "test.tsv": "e92204355209bd2c52eab3ae1b3e09819cd61f4b1f446e413a4872100519e3d0",
}

# numpy's repr of an array of strings: Python string literals separated by whitespace.
_LITERAL = re.compile(r"""'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*\"""")


@dataclass(frozen=True)
class Document:
    title: str
    text: str

    def as_file(self) -> str:
        """The document as the text file a user would upload: its title, then its body."""
        return f"{self.title}\n\n{self.text}" if self.title else self.text


@dataclass(frozen=True)
class TestSet:
    name: str
    corpus: dict[str, Document]
    queries: dict[str, str]
    # query id -> document id -> grade (0 = judged not relevant)
    qrels: dict[str, dict[str, int]]


def _checked(data: bytes, expected: str, what: str) -> bytes:
    found = hashlib.sha256(data).hexdigest()
    if found != expected:
        raise ValueError(f"{what}: sha256 {found}, expected {expected} (see testsets/README.md)")
    return data


def scifact() -> TestSet:
    """BEIR's SciFact test split: 5,183 abstracts, the 300 claims of SciFact's dev split as
    queries, each judged against the abstracts it cites (BEIR built its qrels the same way)."""
    path = DATA / "scifact.zip"
    data = _checked(path.read_bytes(), SCIFACT_ZIP_SHA256, path.name)
    archive = zipfile.ZipFile(io.BytesIO(data))
    csv.field_size_limit(1 << 30)

    def rows(name: str) -> list[dict[str, str]]:
        return list(csv.DictReader(io.TextIOWrapper(archive.open(name), encoding="utf-8")))

    corpus = {
        row["doc_id"]: Document(
            row["title"], " ".join(ast.literal_eval(s) for s in _LITERAL.findall(row["abstract"]))
        )
        for row in rows("corpus_train.csv")
    }
    queries: dict[str, str] = {}
    qrels: dict[str, dict[str, int]] = {}
    for row in rows("claims_validation.csv"):
        queries[row["id"]] = row["claim"]
        for doc_id in re.findall(r"\d+", row["cited_doc_ids"]):
            qrels.setdefault(row["id"], {})[doc_id] = 1
    return TestSet("SciFact", corpus, queries, qrels)


def dbpedia_entity() -> TestSet:
    """A 5,000-entity sample of BEIR's DBpedia-Entity with 50 of its test queries, graded 0-2."""
    folder = DATA / "dbpedia-entity-5k"
    raw = {
        "corpus.jsonl": gzip.decompress((folder / "corpus.jsonl.gz").read_bytes()),
        "queries.jsonl": (folder / "queries.jsonl").read_bytes(),
        "test.tsv": (folder / "test.tsv").read_bytes(),
    }
    text = {name: _checked(data, DBPEDIA_SHA256[name], name).decode() for name, data in raw.items()}
    corpus = {}
    for line in text["corpus.jsonl"].splitlines():
        item = json.loads(line)
        corpus[item["_id"]] = Document(item.get("title") or "", item["text"])
    queries = {
        item["_id"]: item["text"] for item in map(json.loads, text["queries.jsonl"].splitlines())
    }
    qrels: dict[str, dict[str, int]] = {}
    for line in text["test.tsv"].splitlines()[1:]:
        query_id, doc_id, grade = line.split("\t")
        if doc_id in corpus:
            qrels.setdefault(query_id, {})[doc_id] = int(grade)
    return TestSet("DBpedia-Entity (5k sample)", corpus, queries, qrels)
