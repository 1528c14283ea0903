"""``celebalab explain RUN ROOT --out DIR``: regional validation of attribution methods."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from celebalab._help import example, grouped

_ALL = "gradcam,gradcam++,ig,gradshap,kernelshap,lime,occlusion,saliency,random,center"


def _names(text: str | None) -> tuple[str, ...] | None:
    if text is None:
        return None
    return tuple(n.strip() for n in text.split(",") if n.strip())


def explain_command(
    run: Annotated[Path, typer.Argument(help="Run directory (celebalab train).")],
    root: Annotated[Path, typer.Argument(help="Dataset with masks: CelebAMask-HQ or synthetic.")],
    out: Annotated[Path, typer.Option("--out", help="Output folder (resumed if interrupted).")],
    methods: Annotated[
        str, typer.Option(help=f"Comma-separated: {_ALL.replace(',', ', ')}.", show_default="all")
    ] = _ALL,
    attributes: Annotated[
        str | None, typer.Option(help="Comma-separated attributes [default: all with a region].")
    ] = None,
    n: Annotated[int, typer.Option("--n", help="Images per attribute (and pairs).")] = 500,
    split: Annotated[str, typer.Option(help="train, val, test or all.")] = "test",
    pairs: Annotated[
        bool, typer.Option(help="Also explain pair decisions (embedding cosine similarity).")
    ] = False,
    regions: Annotated[
        Path | None, typer.Option(help="JSON/YAML {attribute: [mask classes or groups]}.")
    ] = None,
    top_q: Annotated[float, typer.Option(help="Top fraction for recall/coherence.")] = 0.1,
    fr_q: Annotated[float, typer.Option(help="FR: fraction of pixels removed.")] = 0.1,
    fr_fill: Annotated[
        str, typer.Option(help="FR fill: blur, mean or inpaint (ROAD-style).")
    ] = "blur",
    fr_draws: Annotated[int, typer.Option(help="FR: random equal-area draws per image.")] = 8,
    fr_margin: Annotated[float, typer.Option(help="FR: margin in decision-score units.")] = 0.0,
    fr_table: Annotated[
        Path | None, typer.Option(help="Your own FR per method: CSV 'method,fr'.")
    ] = None,
    curve_steps: Annotated[int, typer.Option(help="Deletion/insertion steps.")] = 10,
    ig_steps: Annotated[int, typer.Option(help="Integrated Gradients steps.")] = 32,
    shap_samples: Annotated[int, typer.Option(help="KernelSHAP perturbations per image.")] = 128,
    lime_samples: Annotated[int, typer.Option(help="LIME perturbations per image.")] = 128,
    superpixels: Annotated[int, typer.Option(help="SLIC superpixels for LIME/KernelSHAP.")] = 48,
    batch_size: Annotated[int, typer.Option(help="Images per attribution call.")] = 32,
    device: Annotated[str | None, typer.Option(help="cpu, cuda, cuda:N [default: auto].")] = None,
    seed: Annotated[int, typer.Option(help="Seed for image choice, Random, FR draws, CIs.")] = 0,
    overwrite: Annotated[bool, typer.Option(help="Replace a non-empty --out.")] = False,
) -> None:
    """Attributions of RUN's decisions scored against face-parsing masks; results + report."""
    from celebalab.explain.falsification import FalsificationSettings
    from celebalab.explain.methods import AttributionSettings
    from celebalab.explain.runner import ExplainConfig, run_explain

    config = ExplainConfig(
        methods=_names(methods) or (),
        attributes=_names(attributes),
        n=n,
        split=split,
        pairs=pairs,
        regions=str(regions) if regions else None,
        top_fraction=top_q,
        batch_size=batch_size,
        seed=seed,
        attribution=AttributionSettings(
            ig_steps=ig_steps,
            shap_samples=shap_samples,
            lime_samples=lime_samples,
            superpixels=superpixels,
        ),
        falsification=FalsificationSettings(
            top_fraction=fr_q,
            fill=fr_fill,
            draws=fr_draws,
            margin=fr_margin,
            steps=curve_steps,
            seed=seed,
        ),
    )
    result = run_explain(
        run, root, out, config=config, device=device, fr_table=fr_table, overwrite=overwrite
    )
    for method, stats in result.methods.items():
        p, fr = stats["regional_precision"], stats["falsification_rate"]
        typer.echo(
            f"{method:>10}: regional precision {p['mean']:.3f} [{p['ci_low']:.3f}, "
            f"{p['ci_high']:.3f}] (area {stats['area']['mean']:.3f}), FR {fr['mean']:.3f}, "
            f"n {p['n']}"
        )
    for skipped in result.skipped:
        if skipped["image_id"] == "-":  # a whole decision, not one image
            typer.echo(f"note: {skipped['reason']}")
    typer.echo(f"wrote {out / 'results.json'}, {out / 'per_image.parquet'}, {out / 'report.html'}")


def register(app: typer.Typer) -> None:
    """Add ``celebalab explain`` to the top-level app."""
    groups = grouped(
        {
            "Data": "attributes n split pairs regions seed",
            "Methods": "methods ig_steps shap_samples lime_samples superpixels",
            "Measurement": "top_q fr_q fr_fill fr_draws fr_margin fr_table curve_steps",
            "Output": "out overwrite",
            "Speed": "batch_size device",
        }
    )
    line = "celebalab explain runs/a data/synth/CelebA --out out/explain --attributes Eyeglasses"
    app.command("explain", epilog=example(line))(groups(explain_command))
