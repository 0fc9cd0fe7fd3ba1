"""Structural-alert filters: named sets of substructure rules a molecule must not trigger.

Three families of sets share one registry, :data:`FILTER_SETS` (``makeable list filters``):

* ``basic``: the project's own short list of groups no chemist accepts in a design (see
  :data:`BASIC_RULES`): peroxides, charged atoms other than nitro / N-oxide zwitterions,
  acyl halides, halogens on N, O or S, and elements outside the usual organic set;
* the rule sets of Pat Walters' rd_filters alert collection (``glaxo``, ``dundee``, ``bms``,
  ``pains_rdf``, ``surechembl``, ``mlsmr``, ``inpharmatica``, ``lint``, and ``bai``, the
  GEGL fork's own), read from the copy shipped in ``makeable/resources/filters`` (MIT, from
  nataliemaus/genetic-expert-guided-learning @ f3c40917). A molecule fails a rule when it
  has more than the rule's ``max`` matches, as in rd_filters. Left out: the fork's
  ``REMOVED`` rules, one line of the file cut off after its SMARTS began, and the one SMARTS
  RDKit cannot parse (BMS ``alpha_halo_amine``, an unbalanced parenthesis);
* RDKit's FilterCatalog sets (``pains``, ``pains_a``, ``pains_b``, ``pains_c``, ``brenk``,
  ``nih``, ``zinc``, ``chembl`` and its parts ``chembl_glaxo`` ... ``chembl_lint``).

Every set compiles once per process into an RDKit ``FilterCatalog`` (C++ matching).
Speed of :func:`passes` (parsing included), measured as CPU time on one core over 2,000
molecules of the neutralised ZINC250k sample (RDKit 2026.09.1): ``basic`` 8,000
molecules/s, ``brenk`` 3,000/s, ``pains`` 500/s (its 480 SMARTS dominate: 2 ms a molecule,
twice a QED evaluation), ``basic`` + ``pains`` + ``brenk`` 490/s, the nine rd_filters sets
240/s. In a design run each distinct proposed SMILES is checked once (the oracle caches it).

Example:
    >>> passes("CC(=O)Oc1ccccc1C(=O)O", ["basic", "pains"])
    True
    >>> [str(a) for a in alerts("COOc1ccccc1", ["basic"])]
    ['basic: peroxide (O-O bond)']
"""

from __future__ import annotations

import csv
import functools
from abc import ABC, abstractmethod
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from importlib import resources

from rdkit import Chem
from rdkit.Chem import FilterCatalog

from makeable.chem.molecule import InvalidSmilesError, parse_smiles, quiet_rdkit
from makeable.registry import Registry


@dataclass(frozen=True)
class SmartsRule:
    """One structural alert given as SMARTS.

    Attributes:
        description: what the rule flags (shown in alerts and reports).
        smarts: the substructure pattern.
        max_count: a molecule fails with more than this many matches (rd_filters' ``max``).
    """

    description: str
    smarts: str
    max_count: int = 0


@dataclass(frozen=True)
class Alert:
    """A rule a molecule triggers.

    Attributes:
        filter_set: the name of the filter set.
        rule: the rule's description.
    """

    filter_set: str
    rule: str

    def __str__(self) -> str:
        return f"{self.filter_set}: {self.rule}"


class FilterSet(ABC):
    """A named set of structural alerts, compiled once into an RDKit ``FilterCatalog``.

    Subclasses implement one hook, :meth:`_build_catalog`.

    Args:
        name: the registry name.
        about: one line saying what the set is and where it comes from.
    """

    def __init__(self, name: str, about: str) -> None:
        self.name = name
        self.about = about

    @abstractmethod
    def _build_catalog(self) -> FilterCatalog.FilterCatalog:
        """The compiled catalog; one entry per rule, described by the rule's description."""

    @functools.cached_property
    def catalog(self) -> FilterCatalog.FilterCatalog:
        """The compiled catalog (built on first use)."""
        with quiet_rdkit():
            return self._build_catalog()

    @property
    def rules(self) -> tuple[str, ...]:
        """The rules' descriptions, in catalog order."""
        catalog = self.catalog
        return tuple(catalog.GetEntry(i).GetDescription() for i in range(catalog.GetNumEntries()))

    def has_alert(self, mol: Chem.Mol) -> bool:
        """Whether ``mol`` triggers any rule of the set."""
        return bool(self.catalog.HasMatch(mol))

    def alerts(self, mol: Chem.Mol) -> list[Alert]:
        """The rules ``mol`` triggers (each description once, in catalog order)."""
        found = dict.fromkeys(e.GetDescription() for e in self.catalog.GetMatches(mol))
        return [Alert(self.name, rule) for rule in found]

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r})"


class SmartsFilterSet(FilterSet):
    """A filter set of SMARTS rules (:class:`SmartsRule`); rules RDKit cannot parse are left out.

    Args:
        name: the registry name.
        about: one line saying what the set is and where it comes from.
        rules: the rules.
    """

    def __init__(self, name: str, about: str, rules: Sequence[SmartsRule]) -> None:
        super().__init__(name, about)
        self.smarts_rules = tuple(rules)

    def _build_catalog(self) -> FilterCatalog.FilterCatalog:
        catalog = FilterCatalog.FilterCatalog()
        for rule in self.smarts_rules:
            matcher = FilterCatalog.SmartsMatcher(rule.description, rule.smarts, rule.max_count + 1)
            if matcher.IsValid():
                catalog.AddEntry(FilterCatalog.FilterCatalogEntry(rule.description, matcher))
        return catalog


class RDKitFilterSet(FilterSet):
    """One of RDKit's own filter catalogs.

    Args:
        name: the registry name.
        about: one line saying what the set is.
        catalog_name: a member of ``FilterCatalogParams.FilterCatalogs`` (e.g. ``"PAINS"``).
    """

    def __init__(self, name: str, about: str, catalog_name: str) -> None:
        super().__init__(name, about)
        self.catalog_name = catalog_name

    def _build_catalog(self) -> FilterCatalog.FilterCatalog:
        params = FilterCatalog.FilterCatalogParams()
        params.AddCatalog(
            getattr(FilterCatalog.FilterCatalogParams.FilterCatalogs, self.catalog_name)
        )
        return FilterCatalog.FilterCatalog(params)


BASIC_RULES = (
    # hydroperoxides, dialkyl/aryl peroxides, peracids, ozonides: unstable, oxidising
    SmartsRule("peroxide (O-O bond)", "[#8]-[#8]"),
    # formal charges left after neutralisation: quaternary ammonium, carbanions, azides,
    # diazonium, ... ; nitro groups and N-oxides are drawn as +/- pairs and stay allowed
    SmartsRule("charged atom (not nitro or N-oxide)", "[!+0;!$([#7+]-[#8-]);!$([#8-]-[#7+])]"),
    # acid halides and sulfonyl/sulfinyl halides: reagents that acylate what they meet
    SmartsRule("acyl or sulfonyl halide", "[$([CX3]=[O,S]),$([SX3,SX4]=O)]-[F,Cl,Br,I]"),
    # N-halo amines, hypohalites, sulfenyl halides: oxidising, hydrolyse in water
    SmartsRule("halogen on N, O or S", "[$([#7,#8]-[F,Cl,Br,I]),$([#16]-[Cl,Br,I])]"),
    # anything but H, B, C, N, O, F, Si, P, S, Cl, Se, Br, I (metals, noble gases, As, Sn, ...)
    SmartsRule("unusual element", "[!#1;!#5;!#6;!#7;!#8;!#9;!#14;!#15;!#16;!#17;!#34;!#35;!#53]"),
)

BASIC_ABOUT = "makeable's own: peroxides, charges, acyl halides, N/O/S-halogens, odd elements"

# rd_filters' rule sets: (name in the file, registry name, about)
RD_FILTERS_SETS = (
    ("Glaxo", "glaxo", "Glaxo Wellcome hard filters (rd_filters)"),
    ("Dundee", "dundee", "University of Dundee NTD screening library filters (rd_filters)"),
    ("BMS", "bms", "Bristol-Myers Squibb HTS deck filters (rd_filters)"),
    ("PAINS", "pains_rdf", "PAINS, pan-assay interference compounds (rd_filters' copy)"),
    ("SureChEMBL", "surechembl", "SureChEMBL non-medchem-friendly groups (rd_filters)"),
    ("MLSMR", "mlsmr", "NIH MLSMR excluded functionality (rd_filters)"),
    ("Inpharmatica", "inpharmatica", "Inpharmatica unwanted fragments (rd_filters)"),
    ("LINT", "lint", "Pfizer LINT filters (rd_filters)"),
    ("BAI", "bai", "enols, acetals, strained rings: the GEGL fork's additions to rd_filters"),
)

# RDKit's FilterCatalogs: (member, registry name, about); ALL (their union) is not offered
RDKIT_SETS = (
    ("PAINS", "pains", "PAINS, pan-assay interference compounds (RDKit; A, B and C)"),
    ("PAINS_A", "pains_a", "PAINS family A (RDKit)"),
    ("PAINS_B", "pains_b", "PAINS family B (RDKit)"),
    ("PAINS_C", "pains_c", "PAINS family C (RDKit)"),
    ("BRENK", "brenk", "Brenk et al. 2008 unwanted groups for screening libraries (RDKit)"),
    ("NIH", "nih", "NIH/NCGC reactive and undesirable groups (RDKit)"),
    ("ZINC", "zinc", "ZINC drug-likeness and reactivity filters (RDKit)"),
    ("CHEMBL", "chembl", "all ChEMBL structural alert sets below (RDKit)"),
    ("CHEMBL_Glaxo", "chembl_glaxo", "ChEMBL's Glaxo alerts (RDKit)"),
    ("CHEMBL_Dundee", "chembl_dundee", "ChEMBL's Dundee alerts (RDKit)"),
    ("CHEMBL_BMS", "chembl_bms", "ChEMBL's BMS alerts (RDKit)"),
    ("CHEMBL_SureChEMBL", "chembl_surechembl", "ChEMBL's SureChEMBL alerts (RDKit)"),
    ("CHEMBL_MLSMR", "chembl_mlsmr", "ChEMBL's MLSMR alerts (RDKit)"),
    ("CHEMBL_Inpharmatica", "chembl_inpharmatica", "ChEMBL's Inpharmatica alerts (RDKit)"),
    ("CHEMBL_LINT", "chembl_lint", "ChEMBL's LINT alerts (RDKit)"),
)


@functools.cache
def _rd_filters_rules() -> dict[str, list[SmartsRule]]:
    """The shipped rd_filters alert collection, as rules per rule-set name."""
    ref = resources.files("makeable").joinpath("resources", "filters", "alert_collection.csv")
    rules: dict[str, list[SmartsRule]] = {}
    with ref.open() as fh:
        for row in csv.DictReader(fh):
            if row["smarts"] is None:  # the line of the file cut off after its SMARTS began
                continue
            rule = SmartsRule(row["description"], row["smarts"], int(row["max"]))
            rules.setdefault(row["rule_set_name"], []).append(rule)
    return rules


def _rd_filters_set(name: str, about: str, file_name: str) -> SmartsFilterSet:
    return SmartsFilterSet(name, about, _rd_filters_rules()[file_name])


FILTER_SETS: Registry[FilterSet] = Registry("filter set", group="makeable.filters")
FILTER_SETS.add(
    "basic",
    functools.partial(SmartsFilterSet, "basic", BASIC_ABOUT, BASIC_RULES),
)
for _file_name, _name, _about in RD_FILTERS_SETS:
    FILTER_SETS.add(_name, functools.partial(_rd_filters_set, _name, _about, _file_name))
for _member, _name, _about in RDKIT_SETS:
    FILTER_SETS.add(_name, functools.partial(RDKitFilterSet, _name, _about, _member))


@functools.cache
def get_filter_set(name: str) -> FilterSet:
    """The named filter set, built once per process (so its catalog compiles once).

    Raises:
        UnknownNameError: for an unregistered name (the message lists the valid ones).
    """
    return FILTER_SETS.build(name)


def filter_set_names() -> list[str]:
    """The registered filter set names, sorted."""
    return FILTER_SETS.names()


def _sets(sets: str | Iterable[str]) -> list[FilterSet]:
    return [get_filter_set(n) for n in ([sets] if isinstance(sets, str) else sets)]


def alerts(mol_or_smiles: Chem.Mol | str, sets: str | Iterable[str]) -> list[Alert]:
    """The rules of the named filter sets that a molecule triggers.

    Args:
        mol_or_smiles: an RDKit molecule or a SMILES string.
        sets: a filter set name or names (see :func:`filter_set_names`).

    Returns:
        The alerts, set by set in the given order; an empty list when the molecule passes.

    Raises:
        InvalidSmilesError: ``mol_or_smiles`` is a SMILES RDKit cannot parse.
        UnknownNameError: a set name is not registered.
    """
    filter_sets = _sets(sets)
    mol = parse_smiles(mol_or_smiles) if isinstance(mol_or_smiles, str) else mol_or_smiles
    if mol is None:
        raise InvalidSmilesError(f"invalid SMILES {mol_or_smiles!r}: RDKit could not parse it")
    return [a for s in filter_sets for a in s.alerts(mol)]


def passes(smiles: str, sets: str | Iterable[str]) -> bool:
    """Whether a molecule triggers no rule of the named filter sets.

    Args:
        smiles: a SMILES string.
        sets: a filter set name or names (see :func:`filter_set_names`).

    Returns:
        True when it passes every set; False when it triggers a rule or does not parse.

    Raises:
        UnknownNameError: a set name is not registered.
    """
    filter_sets = _sets(sets)
    mol = parse_smiles(smiles)
    return mol is not None and not any(s.has_alert(mol) for s in filter_sets)


__all__ = [
    "FILTER_SETS",
    "Alert",
    "FilterSet",
    "RDKitFilterSet",
    "SmartsFilterSet",
    "SmartsRule",
    "alerts",
    "filter_set_names",
    "get_filter_set",
    "passes",
]
