"""SAFE strings: a molecule written as its fragments, joined by ring-closure digits.

Noutahi et al., "Gotta be SAFE: a new framework for molecular design", Digital Discovery 2024
(https://doi.org/10.1039/D4DD00019F). The molecule is cut at its BRICS bonds (Degen et al.
2008); each fragment is written as SMILES, and the two ends of a cut bond carry the same
ring-closure number, so ``"c1ccccc1-2.C2CO"`` is one molecule (RDKit reads ring closures
across ``.``). A SAFE string is a valid SMILES string: any SMILES parser decodes it, and
fragments may come in any order, so a language model can be prompted with some fragments and
asked for the rest (motif extension, linker design).

The fragments (:func:`fragments`) are SMILES with numbered attachment points (``[1*]``);
:func:`join` writes such fragments back into a SAFE string, renumbering their attachment
points so that equal numbers are joined. Molecules whose SAFE string would not give back the
same molecule (rare stereo cases) are written as one fragment, their SMILES.
"""

from __future__ import annotations

import random
import re
from collections.abc import Sequence

from rdkit import Chem
from rdkit.Chem import BRICS

from makeable.chem.molecule import parse_smiles, quiet_rdkit
from makeable.chem.smiles_tokens import RING_CLOSURE_TOKEN, split_smiles

_DUMMY = re.compile(r"\(([-=#/\\]?)\[(\d+)\*\]\)|([-=#/\\]?)\[(\d+)\*\]")
_RING_DIGIT = re.compile(r"%(\d{2})|(?<![\[:%\d])(\d)")
_BOND_TOKENS = ("-", "=", "#", "/", "\\", ":")
_BOND = {Chem.BondType.SINGLE: "", Chem.BondType.DOUBLE: "=", Chem.BondType.TRIPLE: "#"}


def _mol(smiles: str) -> Chem.Mol | None:
    return parse_smiles(smiles) if smiles else None


def decode(safe: str) -> str | None:
    """The canonical SMILES of a SAFE string (``None`` when it is not a molecule: unclosed
    attachment digits, bad valences, ...)."""
    mol = _mol(safe)
    if mol is None:
        return None
    if len(Chem.GetMolFrags(mol)) != 1:  # a fragment left unattached
        return None
    return Chem.MolToSmiles(mol)


def fragments(smiles: str) -> list[str]:
    """The BRICS fragments of a molecule, each a canonical SMILES whose attachment points are
    dummy atoms numbered by cut (``[1*]CC``, ``[1*]O[2*]``, ...); ``[]`` for invalid SMILES,
    ``[canonical SMILES]`` for a molecule without BRICS bonds."""
    mol = _mol(smiles)
    if mol is None:
        return []
    bonds = sorted(
        mol.GetBondBetweenAtoms(a, b).GetIdx() for (a, b), _ in BRICS.FindBRICSBonds(mol)
    )
    if not bonds:
        return [Chem.MolToSmiles(mol)]
    cut = Chem.FragmentOnBonds(mol, bonds, dummyLabels=[(i + 1, i + 1) for i in range(len(bonds))])
    return [Chem.MolToSmiles(f) for f in Chem.GetMolFrags(cut, asMols=True)]


def attachments(fragment: str) -> int:
    """Number of attachment points (dummy atoms) of a fragment SMILES."""
    return len(re.findall(r"\[\d*\*\]|\*", fragment))


def _max_ring_digit(smiles: str) -> int:
    """The largest ring-closure number written in ``smiles`` (0 if none)."""
    best = 0
    for two, one in _RING_DIGIT.findall(re.sub(r"\[[^\]]*\]", "", smiles)):
        best = max(best, int(two or one))
    return best


def _digit(n: int) -> str:
    return str(n) if n < 10 else f"%{n}"


def _rooted(fragment: Chem.Mol) -> tuple[str, dict[int, str]]:
    """A fragment (dummy atoms labelled by isotope) as SMILES rooted at a real atom, so that
    every dummy follows the atom it is bonded to, and the bond symbol each dummy's number will
    need: the bond order, and ``-`` for a single bond from an aromatic atom (a ring closure
    between two aromatic atoms would otherwise be read as aromatic)."""
    symbols: dict[int, str] = {}
    for atom in fragment.GetAtoms():
        if atom.GetAtomicNum() == 0:
            (bond,) = atom.GetBonds()
            symbol = _BOND.get(bond.GetBondType(), "")
            if not symbol and bond.GetOtherAtom(atom).GetIsAromatic():
                symbol = "-"
            symbols[atom.GetIsotope()] = symbol
    real = [a.GetIdx() for a in fragment.GetAtoms() if a.GetAtomicNum() != 0]
    if not real:
        raise ValueError("a fragment of dummy atoms only")
    ranks = list(Chem.CanonicalRankAtoms(fragment))
    root = min(real, key=lambda i: ranks[i])
    return Chem.MolToSmiles(fragment, rootedAtAtom=root), symbols


def _label(match: re.Match[str]) -> int:
    """The attachment label of a :data:`_DUMMY` match (``[3*]`` → 3)."""
    return int(match.group(2) if match.group(2) is not None else match.group(4))


def _attach(text: str, symbols: dict[int, str], numbers: dict[int, int]) -> str:
    """``text`` with each dummy ``[label*]`` replaced by the ring-closure number
    ``numbers[label]`` (a double-bond direction written on the dummy's bond is kept)."""

    def replace(m: re.Match[str]) -> str:
        written = m.group(1) if m.group(2) is not None else m.group(3)
        symbol = written if written in ("/", "\\") else symbols[_label(m)]
        return symbol + _digit(numbers[_label(m)])

    return _DUMMY.sub(replace, text)


def encode(smiles: str, rng: random.Random | None = None) -> str | None:
    """The SAFE string of a molecule; fragments in canonical order, or shuffled by ``rng``
    (data augmentation: the same molecule in another fragment order). ``None`` for invalid
    SMILES."""
    mol = _mol(smiles)
    if mol is None:
        return None
    canon = Chem.MolToSmiles(mol)
    frags = fragments(canon)
    if len(frags) <= 1:
        return canon
    order = list(range(len(frags)))
    if rng is not None:
        rng.shuffle(order)
    safe = join([frags[i] for i in order])
    # a molecule whose pieces do not give it back (stereo written around a cut) is one piece
    return safe if safe is not None and decode(safe) == canon else canon


def join(pieces: Sequence[str], open_ok: bool = False) -> str | None:
    """A SAFE string from fragment SMILES with numbered attachment points (``[n*]``): points of
    equal number are joined, each pair by its own ring-closure number above every ring number
    the pieces use. ``open_ok``: a number that occurs once stays an open digit (a prompt for a
    model that writes the rest); otherwise such a string is refused (``None``). Invalid pieces
    give ``None``."""
    parsed = [_mol(p) for p in pieces]
    mols = [m for m in parsed if m is not None]
    if len(mols) < len(parsed):
        return None
    labels: dict[int, int] = {}
    for m in mols:
        for atom in m.GetAtoms():
            if atom.GetAtomicNum() == 0:
                labels[atom.GetIsotope()] = labels.get(atom.GetIsotope(), 0) + 1
    if any(count > 2 for count in labels.values()):
        return None
    if not open_ok and any(count != 2 for count in labels.values()):
        return None
    try:
        rooted = [_rooted(m) for m in mols]
    except ValueError:
        return None
    # attachment numbers above every ring number the pieces use themselves, given in the order
    # the attachments first appear in the string (as SMILES numbers its ring closures): a
    # model reading left to right meets them in increasing order
    start = max((_max_ring_digit(text) for text, _ in rooted), default=0)
    order: list[int] = []
    for text, _ in rooted:
        for m in _DUMMY.finditer(text):
            if _label(m) not in order:
                order.append(_label(m))
    numbers = {label: start + 1 + i for i, label in enumerate(order)}
    if start + len(numbers) > 99:
        return None
    return ".".join(_attach(text, symbols, numbers) for text, symbols in rooted)


def arm_prefix(arm: str) -> str | None:
    """A SMILES prefix of an *arm* (a fragment with one attachment point) that a SMILES model
    continues at the attachment atom: ``[1*]C(=O)c1ccccc1`` → ``C(=O)(c1ccccc1)``, so any
    atom written next is bonded where the cut bond was (a double or triple cut bond is
    written after the prefix: ``=``). The arm is written from its attachment atom, and all of
    it that would follow that atom goes into branches. ``None`` when ``arm`` is not an arm."""
    mol = _mol(arm)
    if mol is None:
        return None
    dummies = [a for a in mol.GetAtoms() if a.GetAtomicNum() == 0]
    if len(dummies) != 1 or mol.GetNumAtoms() < 2:
        return None
    (bond,) = dummies[0].GetBonds()
    tokens = split_smiles(Chem.MolToSmiles(mol, rootedAtAtom=dummies[0].GetIdx()))
    tokens = tokens[1:]  # the dummy
    if tokens and tokens[0] in _BOND_TOKENS:
        tokens = tokens[1:]  # the cut bond: written after the prefix instead
    head = [tokens.pop(0)]  # the attachment atom and the ring closures it opens
    while tokens and (
        RING_CLOSURE_TOKEN.fullmatch(tokens[0])
        or (
            len(tokens) > 1
            and tokens[0] in _BOND_TOKENS
            and RING_CLOSURE_TOKEN.fullmatch(tokens[1])
        )
    ):
        head.append(tokens.pop(0))
    branches: list[str] = []
    while tokens and tokens[0] == "(":
        depth = 0
        end = 0
        for end, token in enumerate(tokens, start=1):  # noqa: B007 (end is read below)
            depth += (token == "(") - (token == ")")
            if depth == 0:
                break
        branches += tokens[:end]
        tokens = tokens[end:]
    chain = ["(", *tokens, ")"] if tokens else []
    return "".join([*head, *branches, *chain, _BOND.get(bond.GetBondType(), "")])


def extend_arm(arm: str, linker: str) -> str | None:
    """The arm made by joining ``arm`` (attachment ``[1*]``) to a linker's ``[1*]`` point: the
    linker's other point (``[2*]``) becomes the new arm's ``[1*]``. ``None`` when either is not
    what it should be or the joined bond is impossible."""
    a, b = _mol(arm), _mol(linker)
    if a is None or b is None or attachments(arm) != 1 or attachments(linker) != 2:
        return None
    ends = [
        (atom.GetIsotope(), atom.GetBonds()[0].GetBondType())
        for m in (a, b)
        for atom in m.GetAtoms()
        if atom.GetAtomicNum() == 0
    ]
    if sorted(label for label, _ in ends) != [1, 1, 2] or len({t for i, t in ends if i == 1}) != 1:
        return None  # not [1*] + [1*]...[2*], or the two ends of the joined bond disagree
    params = Chem.MolzipParams()
    params.label = Chem.MolzipLabel.Isotope
    try:
        with quiet_rdkit():
            zipped = Chem.molzip(a, b, params)
    except (RuntimeError, ValueError):
        return None
    for atom in zipped.GetAtoms():
        if atom.GetAtomicNum() == 0:
            atom.SetIsotope(1)
    try:
        with quiet_rdkit():
            Chem.SanitizeMol(zipped)
    except (RuntimeError, ValueError):
        return None
    return str(Chem.MolToSmiles(zipped))
