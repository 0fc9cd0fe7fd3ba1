"""``makeable conformers``: a conformer ensemble of one molecule (GFlowNet, ETKDG or MCMC),
written as an SDF with energies and Boltzmann weights and an HTML report; and ``makeable bench
conformers`` (its parser is added under ``bench``)."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

from makeable.cli.flags import add_no_progress, add_out, add_seed, at_least_one, at_least_zero


def add_parser(sub: Any) -> None:
    p = sub.add_parser(
        "conformers",
        help="conformers of a molecule: torsion GFlowNet, ETKDG or MCMC (SDF + report)",
        description="Samples conformers of SMILES in torsion space (bond lengths, angles and "
        "rings from one ETKDG + MMFF94 embedding) at a temperature, or embeds them with ETKDG "
        "and MMFF94-minimises each. Writes an SDF with all hydrogens and, per conformer, "
        "energy_kcal_mol, relative_energy_kcal_mol and boltzmann_weight, and an HTML report "
        "beside it (OUT.html for OUT.sdf; report.html, config.yaml and versions.json in a "
        "folder).",
    )
    p.add_argument("smiles", help="the molecule (one SMILES)")
    p.add_argument(
        "--method",
        choices=["gfn", "etkdg", "mcmc"],
        default="gfn",
        help="gfn: a GFlowNet trained on this molecule (default); etkdg: RDKit ETKDG + MMFF94 "
        "minimisation; mcmc: Metropolis over the torsions",
    )
    p.add_argument("--n", type=at_least_one, default=100, help="conformers (default 100)")
    add_seed(p)
    p.add_argument(
        "--energy",
        choices=["mmff", "xtb"],
        default="mmff",
        help="mmff: MMFF94 (RDKit, default); xtb: GFN2-xTB (tblite: pip install "
        "'makeable[xtb]'; about 100 ms a call)",
    )
    p.add_argument(
        "--temperature", type=float, default=298.15, metavar="K", help="kelvin (default 298.15)"
    )
    p.add_argument(
        "--budget",
        type=at_least_one,
        default=10_000,
        help="energy calls of gfn and mcmc, training and final samples together (10000)",
    )
    p.add_argument(
        "--select",
        choices=["distinct", "samples"],
        default="distinct",
        help="distinct: the distinct conformers within 6 kcal/mol of the lowest among all the "
        "states the method evaluated, Boltzmann-weighted (default); samples: the method's own "
        "n draws (gfn, mcmc: Boltzmann draws, weight 1/n each)",
    )
    p.add_argument(
        "--etkdg-seeds",
        type=at_least_zero,
        default=32,
        metavar="K",
        help="gfn: ETKDG conformers put in the replay buffer before training (32; 0: none)",
    )
    add_out(p, "an .sdf file (the report goes beside it) or a results folder")
    add_no_progress(p)
    p.set_defaults(func=run_conformers)


def add_bench_parser(bsub: Any) -> None:
    """``makeable bench conformers`` (called by :mod:`makeable.cli.bench`)."""
    b = bsub.add_parser(
        "conformers",
        help="conformer sampling: GFlowNet vs ETKDG vs MCMC against a long reference",
        description="Drug-like ZINC250k molecules (a seeded choice by rotatable torsions; "
        "MAKEABLE_DATA gives the full set, else the shipped sample). Reference per molecule: "
        "the exhaustive torsion grid (up to 3 torsions) or long parallel tempering, on the "
        "same energy. Resumable (one molecule at a time): OUT/results.csv, OUT/summary.md.",
    )
    b.add_argument("--molecules", type=at_least_one, default=10, help="molecules (10)")
    b.add_argument(
        "--torsions", type=at_least_one, nargs=2, default=[3, 8], metavar=("MIN", "MAX"),
        help="rotatable torsions per molecule (3 8)",
    )  # fmt: skip
    b.add_argument("--smiles", nargs="+", help="these molecules instead of a ZINC250k choice")
    b.add_argument("--n", type=at_least_one, default=200, help="samples per method (200)")
    b.add_argument(
        "--budget", type=at_least_one, default=10_000, help="energy calls of gfn and mcmc"
    )
    b.add_argument(
        "--reference-steps",
        type=at_least_one,
        default=15_000,
        help="parallel-tempering steps of the reference (4 runs x 8 replicas each; 15000)",
    )
    b.add_argument(
        "--etkdg-seeds",
        type=at_least_zero,
        default=32,
        metavar="K",
        help="ETKDG conformers in the GFlowNet's replay buffer before training (32; 0: none)",
    )
    add_seed(b)
    add_out(b, "benchmark folder (created, or resumed)")
    add_no_progress(b)
    b.set_defaults(func=run_bench)


def _writable(out: Path) -> None:
    """Refuse an output path that cannot be written, before any work.

    Raises:
        ValueError: the folder cannot be made or written.
    """
    folder = out.parent if out.suffix.lower() == ".sdf" else out
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ValueError(f"cannot write to {out}: {exc.strerror or exc}") from None
    if not os.access(folder, os.W_OK):
        raise ValueError(f"cannot write to {out}: permission denied")
    if out.suffix.lower() == ".sdf" and out.exists() and not os.access(out, os.W_OK):
        raise ValueError(f"cannot write to {out}: permission denied")


def run_conformers(args: argparse.Namespace) -> int:
    from makeable.conformers.generate import generate
    from makeable.conformers.output import write_report, write_sdf
    from makeable.report import markdown_table
    from makeable.run_folder import RunFolder

    out = Path(args.out)
    _writable(out)

    def show(record: dict[str, float]) -> None:
        print(
            f"calls {record['calls']:.0f}/{args.budget}  T {record['temperature_k']:.0f} K  "
            f"TB loss {record['loss']:.3g}  lowest {record['lowest_energy']:.2f} kcal/mol",
            file=sys.stderr,
        )

    on_record = None if args.no_progress else show
    config = {
        "smiles": args.smiles,
        "method": args.method,
        "n": args.n,
        "seed": args.seed,
        "energy": args.energy,
        "temperature_k": args.temperature,
        "budget": args.budget,
        "select": args.select,
        "etkdg_seeds": args.etkdg_seeds,
    }
    job = {"on_record": on_record, "select": args.select, "etkdg_seeds": args.etkdg_seeds}
    if out.suffix.lower() == ".sdf":
        cset = generate(args.smiles, args.method, args.n, args.seed, args.energy,
                        args.temperature, args.budget, **job)  # fmt: skip
        write_sdf(out, cset)
        report = write_report(out.with_suffix(".html"), cset, out.name)
    else:
        with RunFolder(out) as folder:
            cset = generate(args.smiles, args.method, args.n, args.seed, args.energy,
                            args.temperature, args.budget, **job)  # fmt: skip
            folder.record(config, extra_versions=("tblite",) if args.energy == "xtb" else ())
            write_sdf(out / "conformers.sdf", cset)
            report = write_report(out / "report.html", cset, "conformers.sdf")
            folder.write_summary(
                f"# Conformers of `{cset.smiles}`\n\n"
                + markdown_table(("setting", "value"), cset.info().items())
            )
    info = cset.info()
    calls = "" if info["energy_calls"] is None else f", {info['energy_calls']} energy calls"
    what = (
        f"{len(cset.energies)} distinct conformers within 6 kcal/mol of the lowest (at most "
        f"--n {args.n}; --select samples gives the draws)"
        if cset.selection == "distinct"
        else f"{len(cset.energies)} conformers"
    )
    print(
        f"{what} ({args.method}, {info['rotatable_torsions']} "
        f"rotatable torsions{calls}, {info['wall_s']:.1f} s); lowest "
        f"{info['lowest_energy_kcal_mol']:.2f} kcal/mol; report: {report}"
    )
    return 0


def run_bench(args: argparse.Namespace) -> int:
    from makeable.bench.conformers import BenchSettings, run_conformer_bench

    low, high = args.torsions
    if low > high:
        raise ValueError(f"--torsions MIN MAX: {low} is more than {high}")
    settings = BenchSettings(
        molecules=args.molecules,
        min_torsions=low,
        max_torsions=high,
        n=args.n,
        budget=args.budget,
        reference_steps=args.reference_steps,
        seed=args.seed,
        smiles=tuple(args.smiles or ()),
        etkdg_seeds=args.etkdg_seeds,
    )
    run_conformer_bench(settings, Path(args.out), progress=not args.no_progress)
    print((Path(args.out) / "summary.md").read_text())
    return 0
