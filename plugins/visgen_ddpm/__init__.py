"""Diffusion as a visgen plugin: DDPM training, DDPM and DDIM sampling on the same network,
classifier-free guidance. One model id (``ddpm``); schedules, samplers and
predictions are options, not copies. Cheap to import: torch loads with the trainer.
"""
from visgen import ModelSpec, Param, ViewDecl, hookimpl

THEORY = """
<p><b>Forward process.</b> Add Gaussian noise in <i>T</i> small steps,
<i>q</i>(<i>x<sub>t</sub></i> | <i>x</i><sub><i>t</i>−1</sub>) = 𝒩(√(1 − β<sub><i>t</i></sub>) <i>x</i><sub><i>t</i>−1</sub>, β<sub><i>t</i></sub><i>I</i>).
With α<sub><i>t</i></sub> = 1 − β<sub><i>t</i></sub> and ᾱ<sub><i>t</i></sub> = Π<sub><i>s</i>≤<i>t</i></sub> α<sub><i>s</i></sub> any step has a closed form:</p>
<p class="eq"><i>x<sub>t</sub></i> = √ᾱ<sub><i>t</i></sub> <i>x</i><sub>0</sub> + √(1 − ᾱ<sub><i>t</i></sub>) ε, &nbsp; ε ~ 𝒩(0, <i>I</i>)</p>
<p><b>Training.</b> A network ε<sub>θ</sub>(<i>x<sub>t</sub></i>, <i>t</i>) predicts the noise (or <i>x</i><sub>0</sub>, or
<i>v</i> = √ᾱ ε − √(1 − ᾱ) <i>x</i><sub>0</sub>):</p>
<p class="eq">ℒ = 𝔼<sub><i>t</i>, <i>x</i><sub>0</sub>, ε</sub> ‖ε − ε<sub>θ</sub>(<i>x<sub>t</sub></i>, <i>t</i>)‖²</p>
<p><b>DDPM sampling</b> walks back all <i>T</i> steps:</p>
<p class="eq"><i>x</i><sub><i>t</i>−1</sub> = (1/√α<sub><i>t</i></sub>) (<i>x<sub>t</sub></i> − β<sub><i>t</i></sub>/√(1 − ᾱ<sub><i>t</i></sub>) ε<sub>θ</sub>) + σ<sub><i>t</i></sub> <i>z</i>,
&nbsp; σ<sub><i>t</i></sub>² = β̃<sub><i>t</i></sub> = (1 − ᾱ<sub><i>t</i>−1</sub>)/(1 − ᾱ<sub><i>t</i></sub>) β<sub><i>t</i></sub>,
&nbsp; <i>z</i> ~ 𝒩(0, <i>I</i>), <i>z</i> = 0 at the last step</p>
<p>Each step draws from the posterior <i>q</i>(<i>x</i><sub><i>t</i>−1</sub> | <i>x<sub>t</sub></i>, <i>x</i><sub>0</sub>) with
<i>x</i><sub>0</sub> predicted from ε<sub>θ</sub>: its mean plus σ<sub><i>t</i></sub> <i>z</i>.</p>
<p><b>DDIM</b> skips steps on the same network: predict <i>x̂</i><sub>0</sub> = (<i>x<sub>t</sub></i> − √(1 − ᾱ<sub><i>t</i></sub>) ε<sub>θ</sub>)/√ᾱ<sub><i>t</i></sub>, then</p>
<p class="eq"><i>x<sub>s</sub></i> = √ᾱ<sub><i>s</i></sub> <i>x̂</i><sub>0</sub> + √(1 − ᾱ<sub><i>s</i></sub> − σ²) ε<sub>θ</sub> + σ <i>z</i>,
&nbsp; σ = η √((1 − ᾱ<sub><i>s</i></sub>)/(1 − ᾱ<sub><i>t</i></sub>)) √(1 − ᾱ<sub><i>t</i></sub>/ᾱ<sub><i>s</i></sub>)</p>
<p>η = 0 is deterministic. η = 1 with every step (<i>s</i> = <i>t</i> − 1) gives σ² = β̃<sub><i>t</i></sub> and the
same mean as DDPM: the same distribution of samples, written another way. 50 steps instead of 1,000
make sampling about 20× faster.</p>
<p><b>Classifier-free guidance.</b> Train with the label dropped (replaced by a null token) with
probability <i>p</i><sub>uncond</sub>; at sampling mix the two predictions with the guidance scale <i>w</i>:</p>
<p class="eq">ε̃ = ε<sub>θ</sub>(<i>x<sub>t</sub></i>, ∅) + <i>w</i> (ε<sub>θ</sub>(<i>x<sub>t</sub></i>, <i>y</i>) − ε<sub>θ</sub>(<i>x<sub>t</sub></i>, ∅))</p>
<p><i>w</i> = 0 is unconditional, <i>w</i> = 1 plain conditional, <i>w</i> &gt; 1 sharper, less varied samples.</p>
<p><b>Likelihood.</b> DDPM reports its variational bound on −log <i>p</i>(<i>x</i><sub>0</sub>) on held-out data, in bits per dimension:
a bound, not the exact likelihood. It is the sum of a KL divergence per timestep between the true posterior and the sampler's step,
<i>L</i> = KL(<i>q</i>(<i>x<sub>T</sub></i> | <i>x</i><sub>0</sub>) ‖ 𝒩(0, <i>I</i>)) + Σ<sub><i>t</i>=2..<i>T</i></sub> KL(<i>q</i>(<i>x</i><sub><i>t</i>−1</sub> | <i>x<sub>t</sub></i>, <i>x</i><sub>0</sub>) ‖ <i>p</i><sub>θ</sub>(<i>x</i><sub><i>t</i>−1</sub> | <i>x<sub>t</sub></i>)) − log <i>p</i><sub>θ</sub>(<i>x</i><sub>0</sub> | <i>x</i><sub>1</sub>),
each KL in closed form on one draw of <i>x<sub>t</sub></i>, with the EMA network and the sampler's variance β̃<sub><i>t</i></sub>.
All terms are summed for the held-out figure at the default <i>T</i> = 1,000 (with more steps, and for the live Likelihood curve while training, an unbiased estimate: one <i>t</i> drawn in each of a few strata of 2..<i>T</i>, equal on a log scale, since the terms change fastest at small <i>t</i>).</p>
<p><b>What to watch.</b> Scrub the forward frames to see data dissolve into noise; play the reverse
frames to see noise become data; the loss by <i>t</i> shows which noise levels are hard; on 2D data
the arrows of −ε point from noise towards the data.</p>
"""

PARAMS = [
    Param("schedule", "linear", type="choice", choices=("linear", "cosine"),
          help="beta_t: linear 1e-4 -> 0.02, or cosine alpha-bar"),
    Param("T", 1000, type="int", min=2, max=4000, help="Number of diffusion steps"),
    Param("prediction", "eps", type="choice", choices=("eps", "x0", "v"), help="What the network predicts"),
    Param("denoiser", "auto", type="choice", choices=("auto", "mlp", "unet"),
          help="auto: MLP for points, small U-Net for images"),
    Param("hidden", 256, type="int", min=16, max=4096, help="MLP width / U-Net channels x8",
          kind_defaults={"images": 128}),  # a 16-channel U-Net: ~60 steps/s on one CPU core
    Param("lr", 2e-3, min=1e-6, max=1.0, live=True, log=True, help="Adam learning rate",
          kind_defaults={"images": 1e-3}),
    Param("batch_size", 512, type="int", min=2, max=8192, live=True, help="Samples per step",
          kind_defaults={"images": 128}),
    Param("ema", 0.995, min=0.0, max=0.9999, live=True,
          help="Decay of the weight average used for sampling (0 = raw weights)"),
    Param("sampler", "ddpm", type="choice", choices=("ddpm", "ddim"), live=True,
          help="DDPM: all T ancestral steps; DDIM: sample_steps steps"),
    Param("sample_steps", 50, type="int", min=1, max=4000, live=True, log=True, help="DDIM steps"),
    Param("eta", 0.0, min=0.0, max=1.0, live=True, help="DDIM noise: 0 deterministic, 1 ancestral"),
    Param("conditional", False, type="bool", help="Train with labels (and label dropout) for guidance"),
    Param("p_uncond", 0.1, min=0.0, max=1.0, live=True, help="Label dropout probability"),
    Param("guidance", 3.0, min=0.0, max=20.0, live=True, help="Classifier-free guidance scale w"),
    Param("vae_run", "", type="path",
          help="Latent diffusion: folder of a saved vae run (visgen train vae ...); empty = pixel space"),
    Param("field_t", 100, type="int", min=0, max=3999, live=True,
          help="Timestep of the 2D noise-field view (scrubbing the forward process sets it)"),
]

VIEWS = [
    ViewDecl("losses", "lines", "Loss", scalars=("loss",)),
    ViewDecl("reverse", "frames", "Reverse process (current model)",
             help="The chosen sampler denoising fixed noise; press play"),
    ViewDecl("forward", "frames", "Forward process q(x_t | x_0)", scrub_param="field_t",
             help="Scrub t to watch data dissolve into noise (the noise field follows the scrubber)"),
    ViewDecl("forward_strip", "image_grid", "Forward filmstrip", datasets=("images",)),
    ViewDecl("samples", "image_grid", "Samples", datasets=("images",)),
    ViewDecl("samples2d", "scatter", "Data and samples", datasets=("points",)),
    ViewDecl("schedule", "lines", "Schedule: beta, alpha-bar, SNR", log_y=True),
    ViewDecl("loss_by_t", "bars", "Loss by timestep"),
    ViewDecl("field", "field", "Predicted noise field", datasets=("points",),
             help="Arrows: -eps at t = field_t over the plane; heatmap: |eps|"),
    ViewDecl("sampler_compare", "bars", "DDPM vs DDIM: time per sample",
             help="Time per sample (and coverage on mixtures) for both samplers on the current model"),
]


@hookimpl
def visgen_register_models():
    """The DDPM model (with DDIM sampling and classifier-free guidance)."""
    return [ModelSpec(
        id="ddpm", family="Diffusion", title="Denoising diffusion (DDPM / DDIM)",
        summary="Learn to undo Gaussian noise step by step; sample with DDPM or DDIM, optionally guided.",
        trainer="visgen_ddpm.trainer:DDPMTrainer", params=PARAMS, views=VIEWS,
        data_kinds=("points", "images"), default_dataset="ring8", theory=THEORY, default_steps=4000,
    )]
