"""The GAN family as a visgen plugin: gan, dcgan, wgan, wgan-gp, lsgan, cgan, and the cures
for mode collapse unrolled-gan, pacgan and mbstd-gan.

One trainer (``trainer.GANTrainer``) and one set of losses serve all nine; a
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
<p>Clipping is the problem the penalty cures: a critic whose weights stay within ±<i>c</i> can
only be a very smooth function, so it pushes fakes towards the data but not onto it. On ring8
(seed 0, one CPU core) clipped WGAN reaches all 8 modes within 1,000 steps, yet only about 4 % of
its samples lie near a mode after 3,000 steps (a minute) and 40 % after 12,000; WGAN-GP has more
than half of them there within about 2,000 steps.</p>
<p>WGAN-GP on images uses the published settings: λ = 10, 5 critic steps per generator step,
Adam with β₁ = 0, β₂ = 0.9; watch the gradient-norm curve settle at 1. The penalty is per
sample, so the critic has no batch norm (it would mix the samples of a batch). On the 8×8
digits its convolutional nets draw recognisable digits within about a minute on one CPU core.
On 2D toys it uses λ = 0.1, as the authors' own toy code does: with λ = 10 the fakes never
settle on ring8's narrow modes.</p>
"""

COLLAPSE_CURES = """
<p><b>Cures for mode collapse.</b> A collapsed generator is not caught by a discriminator that
judges one sample at a time: each sample on a covered mode looks real. Three cures, each a
parameter of every GAN here (and the presets <i>unrolled-gan</i>, <i>pacgan</i>, <i>mbstd-gan</i>):</p>
<p><b>Unrolled GAN</b> (Metz et al. 2017), <i>unrolled_steps</i> = <i>k</i>: the generator's loss is
taken against the discriminator <i>D</i><sub><i>k</i></sub> that <i>k</i> more of its own steps would make,
<span class="eq">min<sub><i>G</i></sub> <i>L</i>(<i>G</i>, <i>D</i><sub><i>k</i></sub>)</span>, then <i>D</i> is put back as it
was. A generator that hops onto one mode is punished by the <i>D</i> that would follow it there. This
trainer takes the look-ahead without the second-order term (no gradient through <i>D</i>'s <i>k</i>
updates), as most reimplementations do; the paper differentiates through them.</p>
<p><b>PacGAN</b> (Lin et al. 2018), <i>pack</i> = <i>m</i>: <i>D</i>(<i>x</i><sub>1</sub>, …, <i>x</i><sub><i>m</i></sub>) judges
<i>m</i> samples concatenated, all real or all fake. A pack of fakes from a collapsed generator holds
near-copies, which real packs never do. The heatmap shows <i>D</i> on <i>m</i> copies of each point.</p>
<p><b>Minibatch standard deviation</b> (Karras et al. 2018; a simpler form of Salimans et al.'s
minibatch discrimination), <i>minibatch_std</i>: <i>D</i> also sees σ = mean<sub><i>j</i></sub> std<sub><i>i</i></sub>(<i>x</i><sub><i>ij</i></sub>),
the spread of its batch, which a collapsed batch of fakes keeps small.</p>
"""

LEAST_SQUARES = """
<p><b>LSGAN</b> replaces the log loss with squared errors:</p>
<p class="eq">min<sub><i>D</i></sub> ½𝔼[(<i>D</i>(<i>x</i>) − 1)²] + ½𝔼[<i>D</i>(<i>G</i>(<i>z</i>))²],
&nbsp; min<sub><i>G</i></sub> ½𝔼[(<i>D</i>(<i>G</i>(<i>z</i>)) − 1)²]</p>
<p>Fakes far on the right side of the decision boundary are still pulled towards the data,
which gives steadier gradients than the sigmoid loss.</p>
"""


def _watch(critic=False, conditional=False, saturating=True):
    """What to watch, naming the colours the views use (see ``trainer``: REAL, FAKE, GRID);
    ``saturating``: the model has the saturating generator loss to try."""
    d = "the critic <i>f</i>" if critic else "<i>D</i>"
    heat = ("red where <i>f</i> scores high, as on real data, blue where low" if critic
            else "red where <i>D</i> says real, blue where it says fake")
    fakes = "dots coloured by class are fakes" if conditional else "magenta triangles are fakes"
    remedy = "" if critic else ("; try " + ("the saturating loss, or " if saturating else "")
                                + "<i>k</i> = 5 discriminator steps per generator step with a high learning "
                                  "rate, then WGAN-GP")
    return f"""
<p><b>What to watch.</b> On 2D data the heatmap is {d} over the plane ({heat}), black dots
are real, {fakes} with black arrows showing where the generator's loss pushes them, and green lines
are <i>G</i> applied to a regular grid in <i>z</i> (the warped noise manifold). The histograms of
{d} on real (grey) and fake (magenta) batches drift together as <i>G</i> improves. <b>Mode collapse</b>:
the fakes gather on a few modes and the coverage curve drops{remedy}.</p>
<p>Step D only / Step G only play one side of the game; Slow mode lets you follow each step.</p>
"""


def _common(arch="mlp", lr=2e-4, beta1=0.5, beta2=0.999, d_steps=1, hidden=128, batch=256, images=None,
            unrolled=0, pack=1, minibatch_std=False):
    """The parameters every GAN shares. ``images`` overrides defaults on image data
    (``Param.kind_defaults``); on images z has 32 dimensions unless it says otherwise."""
    on_images = {"latent_dim": 32, **(images or {})}

    def p(name, default, **kw):
        return Param(name, default, kind_defaults={"images": on_images[name]} if name in on_images else None, **kw)

    return [
        p("arch", arch, type="choice", choices=("mlp", "conv"),
          help="MLP (points or flattened images) or DCGAN-style convolutions (images)"),
        p("latent_dim", 2 if arch == "mlp" else 32, type="int", min=1, max=512, help="Size of the noise z"),
        p("hidden", hidden, type="int", min=8, max=4096, help="MLP width / conv channels x4"),
        p("spectral_norm", False, type="bool", help="Spectral normalisation on every layer of D"),
        p("lr_g", lr, min=1e-6, max=1.0, live=True, log=True, help="Generator learning rate"),
        p("lr_d", lr, min=1e-6, max=1.0, live=True, log=True, help="Discriminator learning rate"),
        p("beta1", beta1, min=0.0, max=0.999, live=True, help="Adam beta1 (momentum)"),
        p("beta2", beta2, min=0.0, max=0.9999, live=True, help="Adam beta2"),
        p("d_steps", d_steps, type="int", min=1, max=50, live=True,
          help="Discriminator steps per generator step (k)"),
        p("batch_size", batch, type="int", min=2, max=8192, live=True, log=True, help="Samples per step"),
        # the cures for mode collapse (see COLLAPSE_CURES): every GAN can try each
        p("unrolled_steps", unrolled, type="int", min=0, max=20, live=True,
          help="Unrolled GAN: G's loss is taken against D after this many more D steps (then D is put back)"),
        p("pack", pack, type="int", min=1, max=8,
          help="PacGAN: D judges this many samples at once, all real or all fake (1: one at a time)"),
        p("minibatch_std", minibatch_std, type="bool",
          help="Minibatch standard deviation: D also sees how spread out its batch is"),
    ]


def _views(wasserstein=False, penalty=False, conditional=False):
    # A Wasserstein critic is no discriminator: it scores, it does not classify.
    d, score = ("Critic", "critic f(x)") if wasserstein else ("Discriminator", "D(x)")
    views = [
        ViewDecl("losses", "lines", "Losses", scalars=("d_loss", "g_loss")),
        ViewDecl("decision", "field", f"{d} over the plane", datasets=("points",),
                 help=f"{score} over the plane; real (black) and fake ({'by class' if conditional else 'magenta'}) "
                      "points; arrows: G's gradient; green lines: G(z grid)"),
        ViewDecl("samples", "image_grid", "Samples from fixed noise", datasets=("images",)),
        ViewDecl("scores", "histogram", f"{score} on real vs fake",
                 help=f"Histogram of the {d.lower()}'s output on a real and a fake batch"),
        ViewDecl("score_means", "lines", "Mean f(x) and f(G(z))" if wasserstein else "Mean D(x) and D(G(z))",
                 scalars=("d_real", "d_fake")),
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
    """Nine GAN variants sharing one trainer: six objectives and architectures, three cures
    for mode collapse."""
    saturating = Param("g_loss", "non-saturating", type="choice", choices=("non-saturating", "saturating"),
                       live=True, help="Generator loss: -log D(G(z)) or the original log(1 - D(G(z)))")
    return [
        ModelSpec("gan", "GAN", "GAN (minimax, BCE)", "The original GAN game; saturating or non-saturating G loss.",
                  TRAINER, params=[_loss("bce"), saturating, *_common(lr=1e-3, beta1=0.5)],
                  views=_views(), default_dataset="ring8", theory=MINIMAX + _watch(), phases=("D", "G"),
                  default_steps=5000),
        ModelSpec("dcgan", "GAN", "DCGAN (convolutional)", "Strided convs, batch norm, ReLU/LeakyReLU, tanh out.",
                  TRAINER, params=[_loss("bce"), saturating, *_common(arch="conv", lr=2e-4, hidden=128, batch=128)]
                 , views=_views(), data_kinds=("images",), default_dataset="digits",
                  theory=MINIMAX + _watch(), phases=("D", "G"), default_steps=3000),
        ModelSpec("wgan", "GAN", "WGAN (weight clipping)", "Critic without sigmoid, weights clipped, RMSprop.",
                  TRAINER, params=[_loss("wasserstein"), *_common(lr=5e-5, d_steps=5),
                                   Param("clip", 0.01, min=1e-4, max=1.0, live=True, help="Weight clipping c")],
                  views=_views(wasserstein=True), default_dataset="ring8",
                  theory=WASSERSTEIN + _watch(critic=True), phases=("D", "G"), default_steps=5000),
        ModelSpec("wgan-gp", "GAN", "WGAN-GP (gradient penalty)", "Wasserstein critic kept 1-Lipschitz by a gradient penalty.",
                  TRAINER, params=[_loss("wasserstein"),
                                   *_common(lr=1e-3, beta1=0.5, beta2=0.9, d_steps=5, batch=128,
                                            images={"arch": "conv", "hidden": 64, "beta1": 0.0, "batch_size": 32}),
                                   Param("gp_weight", 10.0, min=0.0, max=100.0, live=True, kind_defaults={"points": 0.1},
                                         help="Gradient penalty weight lambda: 10 as published; 0.1 on 2D toys, "
                                              "as in the authors' toy code (10 keeps fakes off ring8's narrow modes)")],
                  views=_views(wasserstein=True, penalty=True), default_dataset="ring8",
                  theory=WASSERSTEIN + _watch(critic=True), phases=("D", "G"), default_steps=5000),
        ModelSpec("lsgan", "GAN", "LSGAN (least squares)", "Squared-error objective instead of the log loss.",
                  TRAINER, params=[_loss("least-squares"), *_common(lr=1e-3, beta1=0.5)],
                  views=_views(), default_dataset="ring8", theory=LEAST_SQUARES + _watch(saturating=False), phases=("D", "G"),
                  default_steps=5000),
        ModelSpec("unrolled-gan", "GAN", "Unrolled GAN (mode collapse cure)",
                  "G's loss against D unrolled k = 5 steps ahead, then D is put back.",
                  TRAINER, params=[_loss("bce"), saturating, *_common(lr=1e-3, beta1=0.5, unrolled=5)],
                  views=_views(), default_dataset="grid25", theory=COLLAPSE_CURES + MINIMAX + _watch(),
                  phases=("D", "G"), default_steps=5000),
        ModelSpec("pacgan", "GAN", "PacGAN2 (mode collapse cure)", "D judges two samples at once, both real or both fake.",
                  TRAINER, params=[_loss("bce"), saturating, *_common(lr=1e-3, beta1=0.5, pack=2)],
                  views=_views(), default_dataset="grid25", theory=COLLAPSE_CURES + MINIMAX + _watch(),
                  phases=("D", "G"), default_steps=5000),
        ModelSpec("mbstd-gan", "GAN", "GAN + minibatch std (mode collapse cure)",
                  "D also sees its batch's standard deviation.",
                  TRAINER, params=[_loss("bce"), saturating, *_common(lr=1e-3, beta1=0.5, minibatch_std=True)],
                  views=_views(), default_dataset="grid25", theory=COLLAPSE_CURES + MINIMAX + _watch(),
                  phases=("D", "G"), default_steps=5000),
        ModelSpec("cgan", "GAN", "Conditional GAN", "G and D both see the class label (mixture component on 2D data).",
                  TRAINER, params=[_loss("bce"), saturating, *_common(lr=1e-3, beta1=0.5),
                                   Param("conditional", True, type="bool", help="Condition on labels")],
                  views=_views(conditional=True), default_dataset="ring8",
                  theory=MINIMAX + _watch(conditional=True), phases=("D", "G"), default_steps=5000),
    ]
