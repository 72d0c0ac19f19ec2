"""PixelCNN as a visgen plugin: an autoregressive model with exact likelihood and slow, pixel-by-pixel sampling.

Importing this module is cheap: the trainer (and torch) load when a run is built.
"""
from visgen import ModelSpec, Param, ViewDecl, hookimpl

THEORY = """
<p><b>The chain rule.</b> Any distribution over an image of <i>D</i> pixels factorises exactly,
in a fixed order (raster order: row by row, left to right):</p>
<p class="eq"><i>p</i>(<i>x</i>) = Π<sub><i>i</i>=1</sub><sup><i>D</i></sup> <i>p</i>(<i>x<sub>i</sub></i> | <i>x</i><sub>1</sub>, …, <i>x</i><sub><i>i</i>−1</sub>)
= Π<sub><i>i</i></sub> <i>p</i>(<i>x<sub>i</sub></i> | <i>x</i><sub>&lt;<i>i</i></sub>)</p>
<p>PixelCNN models each factor with one network that outputs, at every pixel, a <b>categorical
distribution over <i>K</i> intensity levels</b> (the image is quantised to <i>K</i> levels: 2 for
binarised digits, up to 256). Training minimises the cross-entropy, which is exactly the negative
log-likelihood:</p>
<p class="eq">−log <i>p</i>(<i>x</i>) = −Σ<sub><i>i</i></sub> log <i>p</i><sub>θ</sub>(<i>x<sub>i</sub></i> | <i>x</i><sub>&lt;<i>i</i></sub>) nats,
&nbsp; bits/dim = −log <i>p</i>(<i>x</i>) / (<i>D</i> ln 2)</p>
<p>A model that knows nothing gives every level 1/<i>K</i>: log<sub>2</sub> <i>K</i> bits per dimension
(1 for binary pixels). No bound, no sampling noise: the number is exact. To compare with models
of 8-bit pixels, the <b>Likelihood</b> view counts each level's probability spread evenly over its
1/<i>K</i>-wide bin of [0, 1]: the same model then costs log<sub>2</sub>(256/<i>K</i>) bits more per
pixel (7 for binary pixels), the price of not telling the grey levels inside a bin apart.</p>
<p><b>Masked convolutions</b> make one pass compute all <i>D</i> factors at once, in parallel,
without cheating. Each kernel is multiplied by a mask that zeroes the taps on the pixel's right
in its row and on every row below. <b>Mask A</b> (first layer) also zeroes the centre: the output
at pixel <i>i</i> must not see <i>x<sub>i</sub></i> itself. <b>Mask B</b> (every later layer) keeps
the centre, which by then holds only features of pixels before <i>i</i>. Stacking 3×3 mask-B layers
grows the receptive field up and to the left, but never quite fills it: a wedge of pixels above and
to the right is never seen, the <b>blind spot</b> (red in the receptive-field view).
<b>Gated PixelCNN</b> (arch = gated) removes it: a <b>vertical stack</b> sees every row above
(its output shifted down one row), a <b>horizontal stack</b> sees the pixels to the left in the row,
and each layer is gated, tanh(<i>W</i><sub>f</sub> ∗ <i>h</i>) ⊙ σ(<i>W</i><sub>g</sub> ∗ <i>h</i>).</p>
<p><b>Why sampling is slow.</b> Training sees the true pixels, so all factors come from one pass.
Sampling has no true pixels: <i>x<sub>i</sub></i> must be drawn before <i>x</i><sub><i>i</i>+1</sub> can be
predicted, so a sample takes <b><i>D</i> network passes</b>, one per pixel (64 for 8×8 digits, 784 for
MNIST, 3,072 sub-pixels for 32×32 colour), against one for a GAN, a VAE or a flow. The <b>Time per
sample</b> view times both on this machine: the drawn sample against one pass of the same
network.</p>
<p><b>Likelihood in [0, 1] units.</b> For comparison with continuous models the run reports the
density of spreading each level's probability over its 1/<i>K</i>-wide bin:
log <i>p</i>(<i>x</i>) = log <i>P</i>(levels) + <i>D</i> log <i>K</i>.</p>
<p><b>What to watch.</b> The NLL falls from <i>D</i> ln <i>K</i> nats (44 for 8×8 binary digits);
play the sampling animation to see each digit appear pixel by pixel, top-left first; move the
probed pixel (probe row, probe col) to see its receptive field and the blind spot, and the bars of
<i>p</i>(<i>x<sub>i</sub></i> | <i>x</i><sub>&lt;<i>i</i></sub>) sharpen as the model learns where strokes go.</p>
"""

VIEWS = [
    ViewDecl("nll", "lines", "NLL (nats per image)", scalars=("nll",),
             help="Exact negative log-likelihood of the training batch: the cross-entropy, in nats"),
    ViewDecl("bits", "lines", "Bits per pixel on the K levels", scalars=("levels_bits_per_dim",),
             help="NLL / (D ln 2) of the training batch's K-level images: log2 K for a model that knows "
                  "nothing (1 for binary pixels); the Likelihood view gives the 8-bit figure"),
    ViewDecl("samples", "image_grid", "Samples", datasets=("images",),
             help="Drawn in raster order with fixed random numbers: one network pass per pixel"),
    ViewDecl("sampling", "frames", "Sampling, pixel by pixel", datasets=("images",),
             help="A fixed batch drawn one pixel per frame (one row per frame for large images); "
                  "blue pixels are not drawn yet"),
    ViewDecl("receptive_field", "image_grid", "Receptive field of the probed pixel", datasets=("images",),
             help="Gradient of the probed pixel's logits w.r.t. the input: which earlier pixels it sees"),
    ViewDecl("distribution", "bars", "p(x_i | x_<i) at the probed pixel", datasets=("images",),
             help="The predicted distribution over the K levels at the probed pixel of a fixed image"),
    ViewDecl("probe_image", "image_grid", "What the probed pixel sees", datasets=("images",)),
    ViewDecl("sample_time", "bars", "Time per sample", datasets=("images",),
             help="Raster-order sampling needs one network pass per pixel; a flow samples in one pass "
                  "(the short bar: one pass of this network). \"Slow generation\", as a number"),
]

PARAMS = [
    Param("arch", "plain", type="choice", choices=("plain", "gated"),
          help="plain: a stack of masked convolutions (has a blind spot); gated: vertical + horizontal "
               "stacks with tanh x sigmoid gates (no blind spot; single-channel images only)"),
    Param("levels", "2", type="choice", choices=("2", "4", "16", "256"),
          help="K: intensity levels per pixel (2 = binarised); each pixel's output is a K-way softmax"),
    Param("channels", 32, type="int", min=4, max=512, help="Feature maps per masked convolution"),
    Param("layers", 4, type="int", min=0, max=20, help="Residual 3x3 mask-B layers after the 7x7 mask-A layer"),
    Param("conditional", False, type="bool", help="Condition on the class label (a learned bias per class)"),
    Param("lr", 2e-3, min=1e-6, max=1.0, live=True, log=True, help="Adam learning rate"),
    Param("batch_size", 64, type="int", min=1, max=4096, help="Images per step"),
    Param("probe_row", -1, type="int", min=-1, max=255, live=True, slider=False,
          help="Row of the probed pixel (receptive field, distribution); -1: the middle"),
    Param("probe_col", -1, type="int", min=-1, max=255, live=True, slider=False,
          help="Column of the probed pixel; -1: near the left edge (1 on 8x8), where the blind spot shows"),
]


@hookimpl
def visgen_register_models():
    """The PixelCNN model."""
    return [ModelSpec(
        id="pixelcnn", family="Autoregressive", title="PixelCNN",
        summary="Masked convolutions model p(x_i | x_<i) over K levels: exact likelihood, one pass per pixel to sample.",
        trainer="visgen_pixelcnn.trainer:PixelCNNTrainer", params=PARAMS, views=VIEWS,
        data_kinds=("images",), default_dataset="digits", theory=THEORY, default_steps=1000,
    )]
