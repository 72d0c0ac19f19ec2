"""The GAN family as a visgen plugin: gan, dcgan, wgan, wgan-gp, lsgan, cgan.

One trainer (``trainer.GANTrainer``) and one set of losses serve all six; a
model id is a preset of the objective, the architecture and its defaults.
Importing this module is cheap: torch loads when a run is built.
"""
from visgen import ModelSpec, Param, ViewDecl, hookimpl

MINIMAX = """
<p>A generator <i>G</i> maps noise <i>z</i> ~ 𝒩(0, <i>I</i>) to samples; a discriminator
<i>D</i> tells real from fake. They play a minimax game:</p>
<p class="eq">min<sub><i>G</i></sub> max<sub><i>D</i></sub> 𝔼<sub><i>x</i>~<i>p</i><sub>data</sub></sub>[log <i>D</i>(<i>x</i>)]
+ 𝔼<sub><i>z</i></sub>[log(1 − <i>D</i>(<i>G</i>(<i>z</i>)))]</p>
<p>For a fixed <i>G</i> the best discriminator is <i>D</i>*(<i>x</i>) = <i>p</i><sub>data</sub> / (<i>p</i><sub>data</sub> + <i>p</i><sub><i>g</i></sub>),
and the game then minimises the Jensen–Shannon divergence between data and generator.</p>
<p><b>Saturating vs non-saturating.</b> Minimising log(1 − <i>D</i>(<i>G</i>(<i>z</i>))) gives
vanishing gradients while <i>D</i> wins easily (early training); the non-saturating
generator loss −log <i>D</i>(<i>G</i>(<i>z</i>)) has the same fixed point and strong gradients.</p>
"""

WASSERSTEIN = """
<p>The critic <i>f</i> (no sigmoid) estimates the Wasserstein-1 distance through the
Kantorovich–Rubinstein duality:</p>
<p class="eq"><i>W</i>(<i>p</i><sub>data</sub>, <i>p</i><sub><i>g</i></sub>) = max<sub>‖<i>f</i>‖<sub>L</sub> ≤ 1</sub>
𝔼<sub><i>x</i></sub>[<i>f</i>(<i>x</i>)] − 𝔼<sub><i>z</i></sub>[<i>f</i>(<i>G</i>(<i>z</i>))]</p>
<p>The critic gap curve is this estimate; unlike a GAN's losses it falls as samples improve.
<b>WGAN</b> keeps <i>f</i> Lipschitz by clipping weights to [−<i>c</i>, <i>c</i>] (with RMSprop);
<b>WGAN-GP</b> adds a gradient penalty on interpolates <i>x̂</i> = ε<i>x</i> + (1 − ε)<i>G</i>(<i>z</i>):</p>
<p class="eq">λ 𝔼<sub><i>x̂</i></sub>[(‖∇<sub><i>x̂</i></sub> <i>f</i>(<i>x̂</i>)‖<sub>2</sub> − 1)²]</p>
"""

LEAST_SQUARES = """
<p><b>LSGAN</b> replaces the log loss with squared errors:</p>
<p class="eq">min<sub><i>D</i></sub> ½𝔼[(<i>D</i>(<i>x</i>) − 1)²] + ½𝔼[<i>D</i>(<i>G</i>(<i>z</i>))²],
&nbsp; min<sub><i>G</i></sub> ½𝔼[(<i>D</i>(<i>G</i>(<i>z</i>)) − 1)²]</p>
<p>Fakes far on the right side of the decision boundary are still pulled towards the data,
which gives steadier gradients than the sigmoid loss.</p>
"""

WATCH = """
<p><b>What to watch.</b> On 2D data the heatmap is <i>D</i> over the plane, grey dots are real,
red dots are fakes with arrows showing where the generator's loss pushes them, and blue dots
are <i>G</i> applied to a regular grid in <i>z</i> (the warped noise manifold). The histograms of
<i>D</i>(<i>x</i>) on real and fake batches drift together as <i>G</i> improves. <b>Mode collapse</b>:
the fakes gather on a few modes and the coverage curve drops; try the saturating loss, or
<i>k</i> = 5 discriminator steps per generator step with a high learning rate, then WGAN-GP.</p>
<p>Step D only / Step G only play one side of the game; Slow mode lets you follow each step.</p>
"""


def _common(arch="mlp", lr=2e-4, beta1=0.5, beta2=0.999, d_steps=1, hidden=128, batch=256):
    return [
        Param("arch", arch, type="choice", choices=("mlp", "conv"),
              help="MLP (points or flattened images) or DCGAN-style convolutions (images)"),
        Param("latent_dim", 2 if arch == "mlp" else 32, type="int", min=1, max=512, help="Size of the noise z"),
        Param("hidden", hidden, type="int", min=8, max=4096, help="MLP width / conv channels x4"),
        Param("spectral_norm", False, type="bool", help="Spectral normalisation on every layer of D"),
        Param("lr_g", lr, min=1e-6, max=1.0, live=True, log=True, help="Generator learning rate"),
        Param("lr_d", lr, min=1e-6, max=1.0, live=True, log=True, help="Discriminator learning rate"),
        Param("beta1", beta1, min=0.0, max=0.999, live=True, help="Adam beta1 (momentum)"),
        Param("beta2", beta2, min=0.0, max=0.9999, live=True, help="Adam beta2"),
        Param("d_steps", d_steps, type="int", min=1, max=50, live=True,
              help="Discriminator steps per generator step (k)"),
        Param("batch_size", batch, type="int", min=2, max=8192, live=True, help="Samples per step"),
    ]


def _views(wasserstein=False, penalty=False, conditional=False):
    views = [
        ViewDecl("losses", "lines", "Losses", scalars=("d_loss", "g_loss")),
        ViewDecl("decision", "field", "Discriminator over the plane", datasets=("points",),
                 help="D over the plane; real (grey) and fake (red) points; arrows: G's gradient; blue: G(z grid)"),
        ViewDecl("samples", "image_grid", "Samples from fixed noise", datasets=("images",)),
        ViewDecl("scores", "histogram", "D on real vs fake",
                 help="Histogram of the discriminator's output on a real and a fake batch"),
        ViewDecl("score_means", "lines", "Mean D(x) and D(G(z))", scalars=("d_real", "d_fake")),
    ]  # modes covered / high quality on mixtures: measured and shown by the runtime for every model
    if conditional:
        views.insert(3, ViewDecl("class_samples", "image_grid", "Samples per class", datasets=("images",)))
    if wasserstein:  # only the gradient penalty measures the critic's gradient norm
        views.append(ViewDecl("wasserstein", "lines", "Critic gap" + (" and gradient norm" if penalty else ""),
                              scalars=("critic_gap", "grad_norm") if penalty else ("critic_gap",)))
    return views


def _loss(kind):
    return Param("loss", kind, type="choice", choices=(kind,), help="The objective (fixed by the model id)")


TRAINER = "visgen_gan.trainer:GANTrainer"


@hookimpl
def visgen_register_models():
    """Six GAN variants sharing one trainer."""
    saturating = Param("g_loss", "non-saturating", type="choice", choices=("non-saturating", "saturating"),
                       live=True, help="Generator loss: -log D(G(z)) or the original log(1 - D(G(z)))")
    return [
        ModelSpec("gan", "GAN", "GAN (minimax, BCE)", "The original GAN game; saturating or non-saturating G loss.",
                  TRAINER, params=[_loss("bce"), saturating, *_common(lr=1e-3, beta1=0.5)],
                  views=_views(), default_dataset="ring8", theory=MINIMAX + WATCH, phases=("D", "G"),
                  default_steps=5000),
        ModelSpec("dcgan", "GAN", "DCGAN (convolutional)", "Strided convs, batch norm, ReLU/LeakyReLU, tanh out.",
                  TRAINER, params=[_loss("bce"), saturating, *_common(arch="conv", lr=2e-4, hidden=128, batch=128)]
                 , views=_views(), data_kinds=("images",), default_dataset="digits",
                  theory=MINIMAX + WATCH, phases=("D", "G"), default_steps=3000),
        ModelSpec("wgan", "GAN", "WGAN (weight clipping)", "Critic without sigmoid, weights clipped, RMSprop.",
                  TRAINER, params=[_loss("wasserstein"), *_common(lr=5e-5, d_steps=5),
                                   Param("clip", 0.01, min=1e-4, max=1.0, live=True, help="Weight clipping c")],
                  views=_views(wasserstein=True), default_dataset="ring8", theory=WASSERSTEIN + WATCH,
                  phases=("D", "G"), default_steps=5000),
        ModelSpec("wgan-gp", "GAN", "WGAN-GP (gradient penalty)", "Wasserstein critic kept 1-Lipschitz by a gradient penalty.",
                  TRAINER, params=[_loss("wasserstein"), *_common(lr=1e-3, beta1=0.5, beta2=0.9, d_steps=5, batch=128),
                                   Param("gp_weight", 0.1, min=0.0, max=1000.0, live=True,
                                         help="Gradient penalty weight lambda")],
                  views=_views(wasserstein=True, penalty=True), default_dataset="ring8", theory=WASSERSTEIN + WATCH,
                  phases=("D", "G"), default_steps=5000),
        ModelSpec("lsgan", "GAN", "LSGAN (least squares)", "Squared-error objective instead of the log loss.",
                  TRAINER, params=[_loss("least-squares"), *_common(lr=1e-3, beta1=0.5)],
                  views=_views(), default_dataset="ring8", theory=LEAST_SQUARES + WATCH, phases=("D", "G"),
                  default_steps=5000),
        ModelSpec("cgan", "GAN", "Conditional GAN", "G and D both see the class label (mixture component on 2D data).",
                  TRAINER, params=[_loss("bce"), saturating, *_common(lr=1e-3, beta1=0.5),
                                   Param("conditional", True, type="bool", help="Condition on labels")],
                  views=_views(conditional=True), default_dataset="ring8", theory=MINIMAX + WATCH,
                  phases=("D", "G"), default_steps=5000),
    ]
