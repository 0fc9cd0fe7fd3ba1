"""Chemistry core: molecule values, fingerprints, descriptors. Imports nothing above RDKit."""

from makeable.chem.molecule import InvalidSmilesError, Molecule, canonical_smiles, parse_smiles

__all__ = ["InvalidSmilesError", "Molecule", "canonical_smiles", "parse_smiles"]
