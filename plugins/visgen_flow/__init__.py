"""Normalizing flows (RealNVP, Glow pieces) as a visgen plugin: exact likelihood by change of variables.

Importing this module is cheap: the trainer (and torch) load when a run is built.
"""
from visgen import ModelSpec, Param, ViewDecl, hookimpl

THEORY = """
<p>A <b>normalizing flow</b> is an invertible map <i>f</i> from data <i>x</i> to a latent
<i>z</i> = <i>f</i>(<i>x</i>) with a simple base density, here <i>p</i>(<i>z</i>) = 𝒩(0, <i>I</i>).
Because <i>f</i> is invertible and differentiable, the <b>change of variables</b> formula gives
the density of <i>x</i> exactly:</p>
<p class="eq">log <i>p</i>(<i>x</i>) = log 𝒩(<i>f</i>(<i>x</i>); 0, <i>I</i>) + log |det ∂<i>f</i>/∂<i>x</i>|</p>
<p>With <i>f</i> = <i>f<sub>K</sub></i> ∘ … ∘ <i>f</i><sub>1</sub> the log-determinant is the sum of
each layer's: log |det ∂<i>f</i>/∂<i>x</i>| = Σ<sub><i>k</i></sub> log |det <i>J<sub>k</sub></i>|.
Training minimises the exact negative log-likelihood −log <i>p</i>(<i>x</i>) (nats); sampling
draws <i>z</i> ~ 𝒩(0, <i>I</i>) and inverts, <i>x</i> = <i>f</i><sup>−1</sup>(<i>z</i>).</p>
<p><b>Affine coupling layer</b> (RealNVP). Split <i>x</i> = [<i>x<sub>a</sub></i>, <i>x<sub>b</sub></i>] with a
mask; keep one half and scale and shift the other by networks of the kept half:</p>
<p class="eq"><i>y<sub>a</sub></i> = <i>x<sub>a</sub></i>, &nbsp;
<i>y<sub>b</sub></i> = <i>x<sub>b</sub></i> ⊙ exp(<i>s</i>(<i>x<sub>a</sub></i>)) + <i>t</i>(<i>x<sub>a</sub></i>), &nbsp;
log |det <i>J</i>| = Σ<sub><i>j</i></sub> <i>s<sub>j</sub></i>(<i>x<sub>a</sub></i>)</p>
<p>The Jacobian is triangular, so its determinant is the product of its diagonal, exp(Σ <i>s</i>);
the inverse is exact and as cheap: <i>x<sub>b</sub></i> = (<i>y<sub>b</sub></i> − <i>t</i>(<i>y<sub>a</sub></i>)) ⊙
exp(−<i>s</i>(<i>y<sub>a</sub></i>)). <i>s</i> and <i>t</i> may be any networks: they are never inverted.
Here <i>s</i> = 3 tanh(raw / 3) keeps the scale bounded, and the masks alternate (on 2D points
<i>x</i><sub>1</sub> kept, then <i>x</i><sub>2</sub>), so every coordinate is transformed.
<b>ActNorm</b> (Glow) optionally precedes each coupling: a per-channel affine map
initialised from the first batch to zero mean and unit variance, log |det| = −Σ log σ.</p>
<p><b>Images</b> are dequantised (uniform noise over each 8-bit level's bin) and mapped to logit space;
their log-likelihood includes the logit map's log-determinant, so it is a density over
[0, 1]<sup><i>D</i></sup> like every other model's. The flow is RealNVP's <b>multi-scale</b> one: at
each scale, couplings with <b>checkerboard</b> masks (a pixel's neighbours change it), a
<b>squeeze</b> (each 2×2 block of pixels becomes 4 channels: a permutation, log |det| = 0),
couplings with <b>channel</b> masks (half the channels change the other half), then half the
channels are <b>factored out</b>: they are already latent, and the next scale works on the rest.
With <code>conv1x1</code>, Glow's <b>invertible 1×1 convolution</b> <i>y</i> = <i>W x</i> mixes
channels before each channel coupling, log |det| = <i>H W</i> log |det <i>W</i>|. Sampling at
<b>temperature</b> <i>T</i> draws <i>z</i> ~ 𝒩(0, <i>T</i>² <i>I</i>): below 1 it trades variety for
cleaner images.</p>
<p><b>What to watch.</b> <b>Density</b>: log <i>p</i>(<i>x</i>) over the plane (bright = likely), the data in
dark grey. Click anywhere in the density or the <b>data x / latents z</b> view (data grey, their latents
<i>z</i> = <i>f</i>(<i>x</i>) coloured by moon: watch each moon become half of a Gaussian): a line follows that point through every layer to its latent <i>z</i>,
black there and <b>white</b> over the density (<b>orange</b> dot: the clicked <i>x</i>; its <i>z</i> the end
of the line; a small <b>blue</b> dot in the x / z view: <i>f</i><sup>−1</sup>(<i>z</i>), the inverse taken layer
by layer back from <i>z</i>, landing on <i>x</i> again, its error in the legend). <b>Warped grid</b>: a regular
grid in <i>z</i> (<b>blue</b> horizontal and <b>orange</b> vertical lines, in the palette's first two
colours) undone one layer at a time; press play to watch the plane fold onto the moons. Each
coupling bends lines in only one direction, the one its mask lets it change. <b>log|det|</b>: where
<i>f</i> stretches area on its way to <i>z</i> (red) or shrinks it (blue); log <i>p</i>(<i>x</i>) is this plus
log 𝒩(<i>f</i>(<i>x</i>)), so a thin moon must be stretched to reach a unit Gaussian.
<b>Samples</b> (red) over the data (grey): thin bridges between modes are the price of a continuous,
invertible map from a single Gaussian.</p>
"""

PARAMS = [
    Param("layers", 8, type="int", min=1, max=64, kind_defaults={"images": 3},
          help="Affine coupling layers (alternating masks); on images, per group of each scale"),
    Param("hidden", 64, type="int", min=4, max=2048,
          help="Width of the s, t networks (two hidden layers on points; conv channels on images)",
          kind_defaults={"images": 32}),  # 32 channels: ~20 steps/s on one CPU core
    Param("actnorm", False, type="bool", help="Glow's actnorm before each coupling (data-initialised affine)"),
    Param("conv1x1", False, type="bool",
          help="Images: Glow's invertible 1x1 convolution before each channel coupling (learned channel mixing)"),
    Param("lr", 2e-3, min=1e-6, max=1.0, live=True, log=True, help="Adam learning rate",
          kind_defaults={"images": 1e-3}),
    Param("batch_size", 256, type="int", min=2, max=8192, live=True, slider=False, help="Samples per step",
          kind_defaults={"images": 64}),
]

VIEWS = [
    ViewDecl("losses", "lines", "Negative log-likelihood", scalars=("nll",),
             help="Exact -log p(x) of each training batch (nats per example)"),
    ViewDecl("density", "field", "Exact log p(x)", datasets=("points",), clickable=True,
             help="log p(x) by change of variables over the plane, data on top; click a point (here or "
                  "in the x / z view) to draw its path x → z"),
    ViewDecl("grid", "frames", "z grid through the layers", datasets=("points",),
             help="A regular grid in z pulled back to x one layer at a time: frame 0 is z, the last is x"),
    ViewDecl("path", "scatter", "Data x, latents z = f(x) and a clicked path", clickable=True, datasets=("points",),
             help="Grey: data x; coloured by moon: its latents z = f(x); click to follow a point through every layer"),
    ViewDecl("samples2d", "scatter", "Samples over the data", datasets=("points",)),
    ViewDecl("logdet", "field", "log|det ∂f/∂x| over the plane", datasets=("points",),
             help="Red: f stretches area on the way to z; blue: shrinks it. log p(x) = log N(f(x)) + this"),
    ViewDecl("samples", "image_grid", "Samples", datasets=("images",)),
    ViewDecl("temperatures", "image_grid", "Samples at temperatures T", datasets=("images",),
             help="x = f⁻¹(T z) for the same z: below 1 cleaner, less varied images"),
    ViewDecl("latents", "image_grid", "Images, their latents and back", datasets=("images",),
             help="Each image x, its latent z = f(x) and f⁻¹(z): the flow is invertible, the round trip exact"),
]


@hookimpl
def visgen_register_models():
    """The RealNVP model."""
    return [ModelSpec(
        id="realnvp", family="Flow", title="Normalizing flow (RealNVP)",
        summary="Invertible affine coupling layers from data to N(0, I); trained on the exact log-likelihood.",
        trainer="visgen_flow.trainer:FlowTrainer", params=PARAMS, views=VIEWS,
        data_kinds=("points", "images"), default_dataset="moons", theory=THEORY, default_steps=3000,
    )]
