"""Hand-picked atom-mapped USPTO-50k reactions for the retrosynthesis tests.

From the GLN test split of USPTO-50k (Jamson-Zhong/Graph2Edits, MIT; the reactions come from
Lowe's USPTO extraction, CC0). Chosen so that rdchiral's extracted template gives the recorded
reactants back.
"""

from __future__ import annotations

MAPPED = [
    # O-methylation (class 1)
    "I[CH3:1].[CH3:2][CH2:3][CH2:4][c:5]1[cH:6][cH:7][cH:8][cH:9][c:10]1[OH:11]"
    ">>[CH3:1][O:11][c:10]1[c:5]([CH2:4][CH2:3][CH3:2])[cH:6][cH:7][cH:8][cH:9]1",
    # Weinreb amide from an acid (class 2)
    "O[C:1]([C:2](=[CH2:3])[C:4]([F:5])([F:6])[F:7])=[O:8].[CH3:9][NH:10][O:11][CH3:12]"
    ">>[C:1]([C:2](=[CH2:3])[C:4]([F:5])([F:6])[F:7])(=[O:8])[N:10]([CH3:9])[O:11][CH3:12]",
    # formylation with DMF (class 3)
    "Br[c:1]1[cH:2][cH:3][c:4]([Br:5])[n:6][cH:7]1.CN(C)[CH:8]=[O:9]"
    ">>[c:1]1([CH:8]=[O:9])[cH:2][cH:3][c:4]([Br:5])[n:6][cH:7]1",
    # Boc deprotection (class 6)
    "CC(C)(C)OC(=O)[NH:1][C:2]1([c:3]2[o:4][n:5][c:6]([CH3:7])[n:8]2)[CH2:9][CH2:10]1"
    ">>[NH2:1][C:2]1([c:3]2[o:4][n:5][c:6]([CH3:7])[n:8]2)[CH2:9][CH2:10]1",
    # nitro reduction (class 7)
    "O=[N+:1]([O-])[c:2]1[c:3]([C:4](=[O:5])[OH:6])[cH:7][c:8]([Cl:9])[cH:10][cH:11]1"
    ">>[NH2:1][c:2]1[c:3]([C:4](=[O:5])[OH:6])[cH:7][c:8]([Cl:9])[cH:10][cH:11]1",
    # stereoselective ketone reduction (class 7): a chiral product
    "[CH3:1][O:2][C:3](=[O:4])[CH2:5][C:6](=[O:7])[CH2:8][Br:9]"
    ">>[CH3:1][O:2][C:3](=[O:4])[CH2:5][C@H:6]([OH:7])[CH2:8][Br:9]",
    # Williamson ether (class 1)
    "Br[CH2:1][C:2]([O:3][CH2:4][CH3:5])=[O:6].[CH:7]#[C:8][CH2:9][OH:10]"
    ">>[CH2:1]([C:2]([O:3][CH2:4][CH3:5])=[O:6])[O:10][CH2:9][C:8]#[CH:7]",
    # SNAr with an amine (class 1)
    "Cl[c:1]1[cH:2][c:3]([Cl:4])[n:5][cH:6][n:7]1.[CH3:8][NH2:9]"
    ">>[c:1]1([NH:9][CH3:8])[cH:2][c:3]([Cl:4])[n:5][cH:6][n:7]1",
    # Weinreb amide from an acid chloride (class 1)
    "Cl[C:1](=[O:2])[CH:3]1[CH2:4][CH2:5]1.[CH3:6][NH:7][O:8][CH3:9]"
    ">>[C:1](=[O:2])([CH:3]1[CH2:4][CH2:5]1)[N:7]([CH3:6])[O:8][CH3:9]",
    # benzylic bromination with NBS (class 10)
    "O=C1CCC(=O)N1[Br:1].[CH3:2][c:3]1[cH:4][n:5][c:6]([Cl:7])[cH:8][c:9]1[Cl:10]"
    ">>[Br:1][CH2:2][c:3]1[cH:4][n:5][c:6]([Cl:7])[cH:8][c:9]1[Cl:10]",
]
CLASSES = [1, 2, 3, 6, 7, 7, 1, 1, 1, 10]

DISTRACTORS = [
    "CCO",
    "CC(=O)Cl",
    "c1ccccc1B(O)O",
    "CC(C)(C)OC(=O)OC(=O)OC(C)(C)C",
    "Nc1ccccc1",
    "O=C(O)c1ccccc1",
    "CN",
    "ClCCl",
    "Clc1ccncc1",
    "CCCc1ccccc1",
]
"""Extra candidate molecules for the selection model (not reactants of MAPPED)."""


def reactions() -> list:
    from makeable.chem.reaction import Reaction
    from makeable.retro.single_step.templates import extract_template

    out = []
    for rxn, cls in zip(MAPPED, CLASSES, strict=True):
        r = Reaction.from_smiles(rxn, **{"class": cls})
        r.metadata["template"] = extract_template(rxn)
        out.append(r)
    return out
