"""The VAE family as a visgen plugin: VAE (MLP or conv) and beta-VAE as one model, and the
conditional VAE on the same trainer.

Importing this module is cheap: the trainer (and torch) load when a run is built.
"""
from visgen import ModelSpec, Param, ViewDecl, hookimpl

THEORY = """
<p>An encoder maps <i>x</i> to a Gaussian <i>q</i><sub>φ</sub>(<i>z</i>|<i>x</i>) =
𝒩(μ, σ²); a decoder gives <i>p</i><sub>θ</sub>(<i>x</i>|<i>z</i>). Both are trained by
maximising the evidence lower bound (ELBO):</p>
<p class="eq">log <i>p</i>(<i>x</i>) ≥ 𝔼<sub><i>q</i>(<i>z</i>|<i>x</i>)</sub>[log <i>p</i>(<i>x</i>|<i>z</i>)]
− <i>D</i><sub>KL</sub>(<i>q</i>(<i>z</i>|<i>x</i>) ‖ <i>p</i>(<i>z</i>))</p>
<p>The first term is the <b>reconstruction</b>; the second, the <b>KL</b> term, pulls each
posterior towards the prior <i>p</i>(<i>z</i>) = 𝒩(0, <i>I</i>). For a diagonal Gaussian it
has a closed form:</p>
<p class="eq"><i>D</i><sub>KL</sub> = −½ Σ<sub><i>j</i></sub> (1 + log σ<sub><i>j</i></sub>² − μ<sub><i>j</i></sub>² − σ<sub><i>j</i></sub>²)</p>
<p><b>Reparameterisation trick</b>: sample <i>z</i> = μ + σ ⊙ ε with ε ~ 𝒩(0, <i>I</i>), so
gradients flow through μ and σ.</p>
<p><b>β-VAE</b> weights the KL term: ℒ = recon + β · KL. β &gt; 1 trades reconstruction for a
smoother, more disentangled latent space; β → 0 is a plain autoencoder. Watch the
per-dimension KL bars: a dimension with KL below 0.01 nats carries no information about
<i>x</i> (it has <b>collapsed</b> onto the prior); the axis never shrinks, so collapsing bars are
seen to fall.</p>
<p><b>Try it — disentangling.</b> Pick the <b>shapes</b> data (a square, circle or triangle at a
random x, y and size; 16×16): it opens with β = 4 and 6 latent dimensions. Within about
10 seconds of training three dimensions stay active and the others collapse, and the
<b>latent traversal</b> (one row per dimension, largest KL first) moves one factor per row:
x, y, size. Drag β down and the active dimensions sharpen (their KL grows); set β = 1 and
press Reset, and four dimensions wake up, each mixing x, y and size (entangled).
<b>Posterior collapse</b>: on the 8×8 digits, β = 4 makes every dimension collapse within
about 2,000 steps (KL ≈ 0, every sample the same mean digit): each image carries too few
nats for a dimension to be worth four times its KL.</p>
<p><b>KL annealing</b> is the usual cure for posterior collapse (Bowman et al. 2016): the KL term
is weighted by <i>w</i>(<i>t</i>) rising from 0,
<span class="eq">ℒ = recon + <i>w</i>(<i>t</i>) · β · KL</span>, so the code becomes useful before the
prior's pull arrives. <code>kl_warmup=linear</code>: <i>w</i> = min(1, <i>t</i> / <i>W</i>);
<code>cyclical</code> (Fu et al. 2019) repeats the ramp every 2<i>W</i> steps (<i>W</i> =
<code>warmup_steps</code>). Watch the <b>active units</b> curve: a unit <i>u</i> is active when its
posterior mean moves with <i>x</i>, Cov<sub><i>x</i></sub>(𝔼<sub><i>q</i></sub>[<i>u</i>|<i>x</i>]) &gt; 0.01
(Burda et al. 2016), measured on each batch.</p>
<p><b>How likely is held-out data?</b> The ELBO is a lower bound on log <i>p</i>(<i>x</i>); drawing
<i>K</i> samples <i>z</i><sub><i>k</i></sub> ~ <i>q</i>(<i>z</i>|<i>x</i>) gives a tighter one, the
importance-weighted (IWAE) bound:</p>
<p class="eq">log <i>p</i>(<i>x</i>) ≥ log (1/<i>K</i>) Σ<sub><i>k</i></sub>
<i>p</i>(<i>x</i>, <i>z</i><sub><i>k</i></sub>) / <i>q</i>(<i>z</i><sub><i>k</i></sub>|<i>x</i>)
≥ ELBO</p>
<p>visgen reports both on the held-out tenth of the data (<code>iwae_k</code> = <i>K</i>; with 1 they
are equal). They bound a density only with a Gaussian decoder (<code>likelihood=gaussian</code>,
trained and measured on dequantised pixels): a Bernoulli decoder on grey pixels is not one.</p>
<p>What to look for: the latent scatter sorts classes into regions; click anywhere in it to
decode that point; samples from the prior are blurry compared with a GAN's.</p>
"""

VIEWS = [
    ViewDecl("losses", "lines", "Loss", scalars=("neg_elbo", "recon", "kl"),
             help="Negative ELBO = reconstruction + KL (per sample, nats)"),
    ViewDecl("latent", "scatter", "Latent space", clickable=True,
             help="Posterior means of 2,000 training points, coloured by class; click to decode"),
    ViewDecl("samples", "image_grid", "Samples from the prior", datasets=("images",)),
    ViewDecl("samples2d", "scatter", "Data and decoded samples", datasets=("points",)),
    ViewDecl("recon", "image_grid", "Input vs reconstruction", datasets=("images",)),
    ViewDecl("traversal", "image_grid", "Latent traversal", datasets=("images",)),
    ViewDecl("decoded", "image_grid", "Decoded from click", datasets=("images",),
             help="Click a point in the latent space: its decoding shows here and follows the model"),
    ViewDecl("kl_dims", "bars", "KL per latent dimension"),
    ViewDecl("collapse", "lines", "Active units and KL weight", scalars=("active_units", "kl_weight"),
             help="Active units: latent dimensions whose posterior mean varies with x (variance over the "
                  "batch above 0.01, Burda et al.); KL weight: the annealing factor w(t) on beta * KL"),
]

PARAMS = [
    Param("arch", "mlp", type="choice", choices=("mlp", "conv"),
          help="MLP or convolutional encoder/decoder (conv needs image data)"),
    Param("latent_dim", 2, type="int", min=1, max=128, kind_defaults={"shapes": 6},
          help="Size of z; with 2 the latent plot is z itself"),
    Param("hidden", 256, type="int", min=8, max=4096, help="Width of the MLP hidden layers / conv channels x8"),
    Param("likelihood", "auto", type="choice", choices=("auto", "bernoulli", "gaussian"),
          help="p(x|z): auto = Bernoulli for images, Gaussian (learned variance) for points"),
    Param("beta", 1.0, min=0.0, max=20.0, live=True, kind_defaults={"shapes": 4.0},
          help="Weight of the KL term (beta-VAE); 4 on shapes, where it disentangles x, y and size"),
    Param("kl_warmup", "none", type="choice", choices=("none", "linear", "cyclical"), live=True,
          help="KL annealing against posterior collapse: the KL weight ramps from 0 to 1 over "
               "warmup_steps (linear), or does so again every 2 x warmup_steps (cyclical)"),
    Param("warmup_steps", 2000, type="int", min=1, max=1_000_000, live=True, log=True, slider=False,
          help="Steps of one KL warm-up"),
    Param("iwae_k", 64, type="int", min=1, max=4096, live=True, slider=False,
          help="Samples of z per example in the held-out IWAE bound (1: the ELBO itself)"),
    Param("lr", 1e-3, min=1e-6, max=1.0, live=True, log=True, help="Adam learning rate"),
    Param("batch_size", 128, type="int", min=1, max=8192, help="Samples per step"),
]


CONDITIONAL = """
<p><b>Conditional VAE</b> (Sohn et al. 2015): the label <i>y</i> goes into both networks,
<i>q</i><sub>φ</sub>(<i>z</i>|<i>x</i>, <i>y</i>) and <i>p</i><sub>θ</sub>(<i>x</i>|<i>z</i>, <i>y</i>), and the bound is
conditional too:</p>
<p class="eq">log <i>p</i>(<i>x</i>|<i>y</i>) ≥ 𝔼<sub><i>q</i>(<i>z</i>|<i>x</i>,<i>y</i>)</sub>[log <i>p</i>(<i>x</i>|<i>z</i>, <i>y</i>)]
− <i>D</i><sub>KL</sub>(<i>q</i>(<i>z</i>|<i>x</i>, <i>y</i>) ‖ <i>p</i>(<i>z</i>))</p>
<p>The class no longer has to be stored in <i>z</i>, so <i>z</i> keeps what the label does not say: the
<b>style</b> (slant, thickness, size). Watch the latent scatter lose its class clusters, the sample
grid (one row per class, one <i>z</i> per column: the same style in every class) and the restyle
grid (a real image's <i>z</i> decoded as every class). To generate a chosen class, pick <i>y</i>:
<i>x</i> ~ <i>p</i>(<i>x</i>|<i>z</i>, <i>y</i>), <i>z</i> ~ 𝒩(0, <i>I</i>).</p>
"""

CONDITIONAL_VIEWS = [*VIEWS[:2],
                     ViewDecl("samples", "image_grid", "Samples: row = class, same z per column", datasets=("images",)),
                     ViewDecl("restyle", "image_grid", "Same style, every class", datasets=("images",),
                              help="Each row: a real image, then its code z decoded with every class label"),
                     *[v for v in VIEWS[2:] if v.id != "samples"]]


VQ_THEORY = """
<p><b>VQ-VAE</b> (van den Oord et al. 2017): a cure for the VAE's blur. The encoder gives a vector
<i>z</i><sub><i>e</i></sub>(<i>x</i>) at each position of a small grid; each is replaced by its nearest
codebook vector,</p>
<p class="eq"><i>z</i><sub><i>q</i></sub> = <i>e</i><sub><i>k</i></sub>, &nbsp; <i>k</i> = argmin<sub><i>j</i></sub>
‖<i>z</i><sub><i>e</i></sub> − <i>e</i><sub><i>j</i></sub>‖</p>
<p>and the decoder sees only <i>z</i><sub><i>q</i></sub>: a discrete code, no noise added to <i>z</i>, no KL
pulling codes together. argmin has no gradient, so the <b>straight-through estimator</b> copies the
decoder's gradient from <i>z</i><sub><i>q</i></sub> to <i>z</i><sub><i>e</i></sub>. The loss, with sg the stop-gradient:</p>
<p class="eq">ℒ = −log <i>p</i>(<i>x</i>|<i>z</i><sub><i>q</i></sub>) + ‖sg[<i>z</i><sub><i>e</i></sub>] − <i>e</i>‖²
+ β ‖<i>z</i><sub><i>e</i></sub> − sg[<i>e</i>]‖²</p>
<p>The middle (codebook) term moves the codes towards the encoder's outputs; with
<code>codebook=ema</code> the codes follow the running mean of the vectors assigned to them instead. The
last (commitment, β = <code>commitment</code>) keeps the encoder near its codes. Watch the <b>usage</b>
histogram and the <b>perplexity</b> (exp of the entropy of the codes chosen: how many are really used).
Codes nobody picks are <b>dead</b>; <code>dead_restart</code> moves them onto recent encoder outputs.</p>
<p>Sampling needs a prior over the codes (in the paper a PixelCNN over the code grid). None is
fitted here yet: the sample view decodes codes drawn uniformly at random and says so; they show
what the decoder makes of arbitrary codes, not samples of the data.</p>
"""

VQ_VIEWS = [
    ViewDecl("losses", "lines", "Losses", scalars=("recon", "commitment", "codebook_loss")),
    ViewDecl("perplexity", "lines", "Codebook perplexity and dead codes", scalars=("perplexity", "dead_codes"),
             help="Perplexity: exp of the entropy of the codes chosen in a batch (how many codes are in use); "
                  "dead: codes chosen by no batch for 200 steps"),
    ViewDecl("usage", "bars", "Codebook usage"),
    ViewDecl("recon", "image_grid", "Input vs reconstruction", datasets=("images",)),
    ViewDecl("code_map", "image_grid", "Code map of an image", datasets=("images",)),
    ViewDecl("samples", "image_grid", "Uniform random codes (no prior yet)", datasets=("images",)),
    ViewDecl("points", "scatter", "Data, reconstructions and decoded codes", datasets=("points",)),
]

VQ_PARAMS = [
    Param("codes", 64, type="int", min=2, max=4096, help="Codebook size K"),
    Param("code_dim", 16, type="int", min=1, max=512, help="Length of each code vector"),
    Param("hidden", 128, type="int", min=8, max=4096, help="Width of the MLP / conv channels x4"),
    Param("codebook", "ema", type="choice", choices=("ema", "loss"),
          help="Codebook update: running means of the assigned vectors (ema) or the codebook loss"),
    Param("commitment", 0.25, min=0.0, max=10.0, live=True, help="Commitment weight beta (0.25 as published)"),
    Param("dead_restart", False, type="bool", live=True,
          help="Move codes unused for 200 steps onto recent encoder outputs"),
    Param("lr", 1e-3, min=1e-6, max=1.0, live=True, log=True, help="Adam learning rate"),
    Param("batch_size", 128, type="int", min=1, max=8192, help="Samples per step"),
]


@hookimpl
def visgen_register_models():
    """The VAE, the conditional VAE and the VQ-VAE."""
    return [ModelSpec(
        id="vae", family="VAE", title="Variational autoencoder (β-VAE)",
        summary="Encoder q(z|x), decoder p(x|z), trained on the ELBO; beta weights the KL term.",
        trainer="visgen_vae.trainer:VAETrainer", params=PARAMS, views=VIEWS,
        data_kinds=("points", "images"), default_dataset="digits", theory=THEORY,
    ), ModelSpec(
        id="cvae", family="VAE", title="Conditional VAE",
        summary="The label goes into encoder and decoder: z keeps the style, y picks the class.",
        trainer="visgen_vae.trainer:VAETrainer",
        params=[*PARAMS, Param("conditional", True, type="bool", help="Condition on labels (the model id's point)")],
        views=CONDITIONAL_VIEWS, data_kinds=("points", "images"), default_dataset="digits",
        theory=CONDITIONAL + THEORY,
    ), ModelSpec(
        id="vqvae", family="VAE", title="VQ-VAE (vector-quantised)",
        summary="A discrete code: each encoder vector replaced by its nearest codebook entry.",
        trainer="visgen_vae.vq_trainer:VQVAETrainer", params=VQ_PARAMS, views=VQ_VIEWS,
        data_kinds=("points", "images"), default_dataset="digits", theory=VQ_THEORY,
    )]
