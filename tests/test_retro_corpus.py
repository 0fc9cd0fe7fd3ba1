"""The training corpus: leakage exclusions, atom mapping in resumable chunks, templates.

A small data folder is written here and RXNMapper is replaced by a lookup of known atom maps
(USPTO-50k validation reactions), so the tests need neither the shared data nor the mapper.
"""

from __future__ import annotations

import csv
import gzip
import json
from pathlib import Path
from typing import Any

import pytest

from makeable.chem.reaction import Reaction
from makeable.retro.single_step import corpus
from makeable.retro.single_step.templates import apply_template

# three atom-mapped USPTO-50k validation reactions (GLN split)
MAPPED = [
    "O=C(O[C:1](=[O:2])[C:3]([F:4])([F:5])[F:6])C(F)(F)F.[NH2:7][c:8]1[cH:9][cH:10][c:11]"
    "([N+:12](=[O:13])[O-:14])[cH:15][cH:16]1>>[C:1](=[O:2])([C:3]([F:4])([F:5])[F:6])[NH:7]"
    "[c:8]1[cH:9][cH:10][c:11]([N+:12](=[O:13])[O-:14])[cH:15][cH:16]1",
    "CC(C)(C)OC(=O)O[C:6]([O:5][C:2]([CH3:1])([CH3:3])[CH3:4])=[O:7].[CH3:8][O:9][c:10]1[cH:11]"
    "[cH:12][c:13]([CH:14]([CH3:15])[CH2:16][NH2:17])[cH:18][c:19]1[O:20][CH:21]1[CH2:22][c:23]2"
    "[cH:24][cH:25][cH:26][cH:27][c:28]2[CH2:29]1>>[CH3:1][C:2]([CH3:3])([CH3:4])[O:5][C:6](=[O:7])"
    "[NH:17][CH2:16][CH:14]([c:13]1[cH:12][cH:11][c:10]([O:9][CH3:8])[c:19]([O:20][CH:21]2[CH2:22]"
    "[c:23]3[cH:24][cH:25][cH:26][cH:27][c:28]3[CH2:29]2)[cH:18]1)[CH3:15]",
]
NITRO = Reaction.from_smiles(MAPPED[0])
BOC = Reaction.from_smiles(MAPPED[1])
LEAKED = Reaction.from_smiles("CC(=O)Cl.NCc1ccccc1>>CC(=O)NCc1ccccc1")  # a "PaRoutes" product
HELD_OUT = Reaction.from_smiles("CC(=O)Cl.Nc1ccccc1>>CC(=O)Nc1ccccc1")  # a "USPTO-50k test" one
TRAIN = Reaction.from_smiles(
    "CCO.O=C(O)c1ccccc1>>CCOC(=O)c1ccccc1", id="T1", template="[C:1]>>[C:1]"
)


class FakeMapper:
    """RXNMapper's interface, answering from MAPPED; fails on anything else."""

    def __init__(self) -> None:
        self.known = {Reaction.from_smiles(m).smiles: m for m in MAPPED}
        self.seen: list[str] = []

    def get_attention_guided_atom_maps(self, rxns: list[str], **_: Any) -> list[dict[str, Any]]:
        self.seen.extend(rxns)
        keys = [Reaction.from_smiles(r).smiles for r in rxns]
        if any(k not in self.known for k in keys):
            raise ValueError("token sequence too long")  # as RXNMapper does on odd input
        return [{"mapped_rxn": self.known[k], "confidence": 0.9} for k in keys]


@pytest.fixture
def fake_data(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> FakeMapper:
    root = tmp_path / "data"
    (root / "reactions").mkdir(parents=True)
    (root / "planning" / "paroutes").mkdir(parents=True)
    rows = [
        (NITRO.smiles, "train"),
        (BOC.smiles, "valid"),
        (
            f"{'.'.join(reversed(NITRO.reactants_smiles.split('.')))}>>{NITRO.product.smiles}",
            "test",
        ),
        (LEAKED.smiles, "train"),
        (HELD_OUT.smiles, "train"),
        ("CCO.CC(=O)O>>CCOC(C)=O.O", "train"),  # two products
        ("CCO.CCCCBr>>CCCCOCC", "train"),  # the mapper fails on it
    ]
    with gzip.open(root / corpus.USPTO500MT_RELPATH, "wt", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["rxn", "reagent", "split"])
        writer.writerows((rxn, "", split) for rxn, split in rows)
    with gzip.open(root / corpus.ROUTE_MOLECULES_RELPATH, "wt") as fh:
        fh.write(f"{LEAKED.product.smiles}\nc1ccccc1\n")
    monkeypatch.setenv("MAKEABLE_DATA", str(root))

    def load(split: str, limit: int | None = None) -> tuple[Reaction, ...]:
        return (TRAIN,) if split == "train" else (HELD_OUT,)

    monkeypatch.setattr(corpus, "load_uspto50k", load)
    mapper = FakeMapper()
    monkeypatch.setattr(corpus, "_MAPPER", mapper)
    return mapper


def test_corpus_drops_leakage_duplicates_and_failures(
    fake_data: FakeMapper, tmp_path: Path
) -> None:
    meta = corpus.build_corpus(tmp_path / "c", chunk_size=2, progress=False)
    mt = meta["sources"]["uspto500mt"]
    assert mt["read"] == 7
    assert mt["excluded_paroutes_route_molecules"] == 1
    assert mt["excluded_uspto50k_val_test_products"] == 1
    assert mt["duplicate"] == 1  # the nitro reaction with its reactants in another order
    assert mt["invalid_or_multi_product"] == 1
    assert mt["mapping_failed"] == 1
    assert mt["kept"] == 2
    assert meta["sources"]["uspto50k"]["kept"] == 1
    assert meta["n_reactions"] == 3
    reactions = corpus.load_corpus(tmp_path / "c")
    products = {r.product.smiles for r in reactions}
    assert LEAKED.product.smiles not in products and HELD_OUT.product.smiles not in products
    assert {r.metadata["source"] for r in reactions} == {"uspto50k", "uspto500mt"}
    # each extracted template gives the recorded reactants back from the product
    for r in reactions:
        if r.metadata["source"] == "uspto500mt":
            outcomes = apply_template(r.metadata["template"], r.product.smiles)
            assert tuple(m.smiles for m in r.reactants) in outcomes
    with gzip.open(tmp_path / "c" / corpus.TEMPLATES, "rt") as fh:
        counts = list(csv.DictReader(fh))
    assert sum(int(row["count"]) for row in counts) == 3
    assert json.loads((tmp_path / "c" / corpus.METADATA).read_text()) == meta


def test_corpus_resumes_without_mapping_twice(fake_data: FakeMapper, tmp_path: Path) -> None:
    out = tmp_path / "c"
    corpus.build_corpus(out, chunk_size=2, progress=False)
    chunks = sorted((out / corpus.MAPPED).glob("uspto500mt_*.csv.gz"))
    assert len(chunks) == 2  # 3 reactions to map, 2 per chunk
    first = len(fake_data.seen)
    chunks[1].unlink()  # as if killed before the last chunk was written
    again = corpus.build_corpus(out, chunk_size=2, progress=False)
    assert len(fake_data.seen) - first == 1  # only the missing chunk's one reaction
    assert again["n_reactions"] == 3
    with pytest.raises(ValueError, match="chunk_size"):
        corpus.build_corpus(out, chunk_size=5, progress=False)


def test_corpus_errors_are_one_line(fake_data: FakeMapper, tmp_path: Path) -> None:
    with pytest.raises(corpus.CorpusError, match="unknown corpus source 'uspto_full'"):
        corpus.select_reactions(["uspto_full"])
    with pytest.raises(corpus.CorpusError, match="no finished corpus"):
        corpus.load_corpus(tmp_path / "nowhere")


def test_corpus_cli_train_on_missing_corpus(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from makeable.cli.main import main

    code = main(["retro", "train", "template_mlp", "--corpus", str(tmp_path / "nowhere")])
    err = capsys.readouterr().err.strip().splitlines()
    assert code != 0 and len(err) == 1 and "no finished corpus" in err[0]


def test_corpus_model_trains_from_the_cli_and_keeps_the_corpus_record(
    fake_data: FakeMapper, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    from makeable.cli.main import main
    from makeable.retro.single_step import data
    from makeable.retro.single_step.base import load_model

    corpus.build_corpus(tmp_path / "c", progress=False)
    monkeypatch.setattr(data, "load_uspto50k", lambda split, limit=None: (NITRO,))
    monkeypatch.setattr(data, "attach_mhn_templates", lambda reactions: reactions)
    assert main(["retro", "train", "template_mlp_uspto500mt"]) != 0
    assert "trains on a corpus" in capsys.readouterr().err
    args = ["--param", "epochs=2", "--param", "n_bits=256", "--param", "hidden=[16]"]
    code = main(
        ["retro", "train", "template_mlp_uspto500mt", "--corpus", str(tmp_path / "c")]
        + ["--out", str(tmp_path / "m"), "--no-progress", *args]
    )
    assert code == 0
    assert not (tmp_path / "m" / "checkpoints").exists()  # removed once the model is saved
    model = load_model(tmp_path / "m")
    assert model.name == "template_mlp_uspto500mt"
    record = json.loads((tmp_path / "m" / "config.json").read_text())["training"]["corpus"]
    assert record["n_reactions"] == 3 and record["sources"]["uspto500mt"]["kept"] == 2
    top = model.predict([BOC.product.smiles], k=5)[0].reactant_sets
    assert tuple(m.smiles for m in BOC.reactants) in [s.reactants for s in top]


def test_remap_maps_uspto50k_too_and_writes_the_validation_split(
    fake_data: FakeMapper, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(
        corpus, "load_uspto50k", lambda split, limit=None: (BOC,) if split == "train" else (NITRO,)
    )
    meta = corpus.build_corpus(tmp_path / "c", progress=False, remap=True)
    assert meta["sources"]["uspto50k"]["kept"] == 1  # BOC, mapped here, not an MHN template
    assert meta["sources"]["uspto500mt"]["duplicate"] == 1  # BOC again
    assert meta["sources"]["uspto500mt"]["excluded_uspto50k_val_test_products"] == 2  # NITRO x2
    assert meta["validation"] == {"mapped": 1}
    reactions = corpus.load_corpus(tmp_path / "c")
    boc = [r for r in reactions if r.metadata["source"] == "uspto50k"]
    assert [r.smiles for r in boc] == [BOC.smiles] and boc[0].metadata["template"]
    val = corpus.load_corpus_val(tmp_path / "c")
    assert val is not None and [r.smiles for r in val] == [NITRO.smiles]
    outcomes = apply_template(val[0].metadata["template"], NITRO.product.smiles)
    assert tuple(m.smiles for m in NITRO.reactants) in outcomes
    assert corpus.load_corpus_val(tmp_path / "nowhere") is None
    with pytest.raises(ValueError, match="remap_uspto50k"):
        corpus.build_corpus(tmp_path / "c", progress=False)  # built with remap: refused
