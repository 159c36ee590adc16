"""Build tiny reference models with audiocraft 1.3.0's own builders, export them in audiocraft's release layout and
record audiocraft's outputs, for tests/models/test_magnet.py and test_audiocraft_layout.py (which run without
audiocraft). Run by hand, in an environment that has audiocraft (see ../shared/notes/magnet.md and docs/magnet.md):

    python -m venv /tmp/ac && . /tmp/ac/bin/activate && pip install torch==2.13.0
    pip install --no-deps audiocraft==1.3.0 && pip install einops omegaconf julius flashy num2words sentencepiece \
        soundfile av librosa transformers huggingface_hub tqdm torchmetrics pyyaml safetensors tokenizers
    pip install --no-deps torchaudio==2.11.0 && rm -f /tmp/ac/lib/python3.11/site-packages/torchaudio/lib/*.so
    python tests/models/reference/make_audiocraft_refs.py            # everything, from scratch
    python tests/models/reference/make_audiocraft_refs.py --sampled  # only the sampled refs, into the files there

Writes tests/models/reference/audiocraft/{magnet-music,magnet-audio,musicgen}/ (release files, a t5/ folder beside
them) and a refs.safetensors in each. xformers, spacy and demucs are stubbed: MAGNeT's band attention runs through
torch's scaled_dot_product_attention with the additive mask, which is what xformers computes.
"""
from __future__ import annotations

import shutil
import sys
import tempfile
import types
from pathlib import Path

import torch
import torch.nn.functional as F

HERE = Path(__file__).resolve().parent
OUT = HERE / "audiocraft"
ROOT = HERE.parents[2]
TEXTS = ["warm analog bass loop", "a"]  # different lengths: padding takes part in audiocraft's cross-attention


def _stub_modules() -> None:
    """xformers (imported at audiocraft's import; MAGNeT forces its backend), spacy (imported only)."""
    ops = types.ModuleType("xformers.ops")

    class LowerTriangularMask:  # noqa: D401 - a marker, as in xformers
        pass

    def memory_efficient_attention(q, k, v, attn_bias=None, p=0.0):  # q, k, v: [B, T, H, D]
        q, k, v = (x.transpose(1, 2) for x in (q, k, v))
        if isinstance(attn_bias, LowerTriangularMask):
            out = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        else:
            out = F.scaled_dot_product_attention(q, k, v, attn_mask=attn_bias)
        return out.transpose(1, 2)

    ops.LowerTriangularMask = LowerTriangularMask
    ops.memory_efficient_attention = memory_efficient_attention
    ops.unbind = torch.unbind
    xf = types.ModuleType("xformers")
    xf.ops = ops
    sys.modules.update({"xformers": xf, "xformers.ops": ops, "spacy": types.ModuleType("spacy")})


def _t5(folder: Path, d_model: int, seed: int):
    """A tiny random T5 encoder (transformers layout) and the byte tokenizer, saved in `folder`."""
    from transformers import T5Config, T5EncoderModel

    sys.path.insert(0, str(ROOT))
    from loopgen.models.random_models import byte_tokenizer

    torch.manual_seed(seed)
    cfg = T5Config(vocab_size=300, d_model=d_model, d_kv=8, d_ff=48, num_layers=2, num_heads=3,
                   feed_forward_proj="relu")
    model = T5EncoderModel(cfg).eval()
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(torch.randn(p.shape, generator=g) / (p[0].numel() ** 0.5 if p.dim() >= 2 else 10.0) + (p.dim() == 1))
    folder.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(folder)
    byte_tokenizer().save(str(folder / "tokenizer.json"))
    return model


def _patch_t5(model, folder: Path, name: str) -> None:
    """audiocraft's T5Conditioner loads `name` from the hub: give it the tiny one instead."""
    from transformers import PreTrainedTokenizerFast

    from audiocraft.modules import conditioners

    tok = PreTrainedTokenizerFast(tokenizer_file=str(folder / "tokenizer.json"), pad_token="<pad>", eos_token="</s>")
    conditioners.T5Conditioner.MODELS_DIMS[name] = model.config.d_model
    conditioners.T5Tokenizer = types.SimpleNamespace(from_pretrained=lambda *a, **k: tok)
    conditioners.T5EncoderModel = types.SimpleNamespace(from_pretrained=lambda *a, **k: model)


def _codec_cfg(sample_rate: int, ratios: list[int], card: int) -> dict:
    return {
        "compression_model": "encodec", "device": "cpu", "dtype": "float32", "sample_rate": sample_rate, "channels": 1,
        "encodec": {"autoencoder": "seanet", "quantizer": "rvq", "sample_rate": sample_rate, "channels": 1,
                    "causal": False, "renormalize": False},
        "seanet": {"dimension": 16, "channels": 1, "causal": False, "n_filters": 4, "n_residual_layers": 1,
                   "ratios": ratios, "activation": "ELU", "activation_params": {"alpha": 1.0},
                   "norm": "weight_norm", "norm_params": {}, "kernel_size": 7, "residual_kernel_size": 3,
                   "last_kernel_size": 7, "dilation_base": 2, "pad_mode": "constant", "true_skip": True,
                   "compress": 2, "lstm": 2, "disable_norm_outer_blocks": 0,
                   "decoder": {"trim_right_ratio": 1.0, "final_activation": None, "final_activation_params": None},
                   "encoder": {}},
        "rvq": {"n_q": 4, "q_dropout": False, "bins": card, "decay": 0.99, "kmeans_init": False,
                "kmeans_iters": 50, "threshold_ema_dead_code": 2, "orthogonal_reg_weight": 0.0,
                "orthogonal_reg_active_codes_only": False},
    }


def _lm_cfg(kind: str, card: int, t5_name: str, segment: int) -> dict:
    magnet = kind == "magnet"
    return {
        "lm_model": "transformer_lm_magnet" if magnet else "transformer_lm", "device": "cpu", "dtype": "float32",
        "dataset": {"segment_duration": segment},
        "masking": {"span_len": 3},
        "transformer_lm": {
            "dim": 32, "num_heads": 4, "num_layers": 2, "hidden_scale": 2, "n_q": 4, "card": card,
            "dropout": 0.0, "emb_lr": None, "activation": "gelu", "norm_first": True, "bias_ff": False,
            "bias_attn": False, "bias_proj": False, "past_context": None, "causal": not magnet, "custom": False,
            "memory_efficient": magnet, "attention_as_float32": False, "layer_scale": None,
            "positional_embedding": "sin", "xpos": False, "checkpointing": "none", "weight_init": None,
            "depthwise_init": None, "zero_bias_init": False, "norm": "layer_norm", "cross_attention": True,
            "qk_layer_norm": False, "qk_layer_norm_cross": False, "attention_dropout": None,
            "kv_repeat": 1, "two_step_cfg": False,
            **({"subcodes_context": 5} if magnet else {}),
        },
        "codebooks_pattern": {"modeling": "parallel" if magnet else "delay",
                              "delay": {"delays": [0, 1, 2, 3], "flatten_first": 0, "empty_initial": 0},
                              "parallel": {"empty_initial": 0}},
        "classifier_free_guidance": {"training_dropout": 0.2, "inference_coef": 3.0},
        "attribute_dropout": {},
        "fuser": {"cross_attention_pos_emb": False, "cross_attention_pos_emb_scale": 1, "sum": [], "prepend": [],
                  "cross": ["description"], "input_interpolate": []},
        "conditioners": {"description": {"model": "t5", "t5": {"name": t5_name, "finetune": False,
                                                               "word_dropout": 0.0, "normalize_text": False}}},
    }


def _randomize(module: torch.nn.Module, seed: int) -> None:
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in module.named_parameters():
            if p.dim() >= 2:
                p.copy_(torch.randn(p.shape, generator=g) / p[0].numel() ** 0.5)
            else:
                p.copy_((1.0 if "norm" in name and name.endswith("weight") else 0.0) + 0.1 * torch.randn(p.shape, generator=g))
        for name, b in module.named_buffers():
            if name.endswith("_codebook.embed"):
                b.copy_(torch.randn(b.shape, generator=g))
            elif name.endswith("_codebook.inited"):
                b.fill_(1.0)


def _export(folder: Path, lm, lm_cfg: dict, codec=None, codec_cfg: dict | None = None) -> None:
    """audiocraft's release layout (audiocraft.utils.export): float16 LM state, the config as a YAML string."""
    from omegaconf import OmegaConf

    lm_state = {k: v.half() for k, v in lm.state_dict().items()}
    torch.save({"best_state": lm_state, "xp.cfg": OmegaConf.to_yaml(OmegaConf.create(lm_cfg)), "version": "1.3.0",
                "exported": True}, folder / "state_dict.bin")
    if codec is None:
        torch.save({"pretrained": "facebook/encodec_32khz"}, folder / "compression_state_dict.bin")
    else:
        torch.save({"best_state": codec.state_dict(), "xp.cfg": OmegaConf.to_yaml(OmegaConf.create(codec_cfg)),
                    "version": "1.3.0", "exported": True}, folder / "compression_state_dict.bin")


def make_magnet(kind: str, sample_rate: int, ratios: list[int], t5_name: str, t5_dim: int, seed: int) -> None:
    from omegaconf import OmegaConf
    from safetensors.torch import save_file

    from audiocraft.models import builders
    from audiocraft.models.loaders import load_compression_model, load_lm_model_magnet
    from audiocraft.models.magnet import MAGNeT
    from audiocraft.modules.conditioners import ConditioningAttributes

    folder = OUT / kind
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    t5 = _t5(folder / "t5", t5_dim, seed)
    _patch_t5(t5, folder / "t5", t5_name)
    card = 128
    ccfg = _codec_cfg(sample_rate, ratios, card)
    codec = builders.get_compression_model(OmegaConf.create(ccfg)).eval()
    _randomize(codec, seed + 1)
    lcfg = _lm_cfg("magnet", card, t5_name, segment=1)
    lm = builders.get_lm_model(OmegaConf.create({**lcfg, "transformer_lm": {
        **lcfg["transformer_lm"], "compression_model_framerate": int(codec.frame_rate), "segment_duration": 1,
        "span_len": 3}})).eval()
    _randomize(lm, seed + 2)
    _export(folder, lm, lcfg, codec, ccfg)

    # everything below reads the exported files back through audiocraft's loaders (float16 LM weights)
    codec = load_compression_model(str(folder))
    lm = load_lm_model_magnet(str(folder), compression_model_frame_rate=int(codec.frame_rate))
    model = MAGNeT(name=kind, compression_model=codec, lm=lm)
    refs: dict[str, torch.Tensor] = {}

    # 1. logits of every stage on a partly masked grid, guided batch (texts + their null rows)
    g = torch.Generator().manual_seed(seed + 3)
    T = int(codec.frame_rate) * 1  # one segment of 1 s
    grid = torch.randint(0, card, (len(TEXTS), 4, T), generator=g)
    grid[torch.rand(grid.shape, generator=g) < 0.3] = card  # mask tokens
    refs["grid"] = grid
    conds = [ConditioningAttributes(text={"description": t}) for t in TEXTS]
    from audiocraft.modules.conditioners import ClassifierFreeGuidanceDropout

    null = ClassifierFreeGuidanceDropout(p=1.0)(conds)
    tensors = lm.condition_provider(lm.condition_provider.tokenize(conds + null))
    with torch.no_grad():
        for stage in range(4):
            logits = lm(torch.cat([grid, grid]), [], tensors, stage=stage)  # [2B, K, T, card]
            refs[f"logits_stage{stage}"] = logits[:, stage].float().contiguous()

    # 2. greedy generation with guidance, both span arrangements
    steps = [6, 3, 3, 3]
    for arrangement in ("nonoverlap", "stride1"):
        model.set_generation_params(use_sampling=False, decoding_steps=steps, span_arrangement=arrangement,
                                    **({"temperature": 3.5, "top_p": 0.8, "max_cfg_coef": 20.0} if "audio" in kind else {}))
        with torch.no_grad():
            codes = model.generate(TEXTS, progress=False, return_tokens=True)[1]
        refs[f"greedy_{arrangement}"] = codes
    # 3. continuation: a prompt at the model's rate (no resampling on either side), greedy, nonoverlap
    t = torch.arange(int(0.3 * sample_rate)) / sample_rate
    prompt = (0.4 * torch.sin(2 * torch.pi * 220 * t) + 0.2 * torch.sin(2 * torch.pi * 331 * t))[None, None]
    refs["prompt_wav"] = prompt[0]
    model.set_generation_params(use_sampling=False, decoding_steps=steps, span_arrangement="nonoverlap")
    with torch.no_grad():
        refs["prompt_codes"] = codec.encode(prompt)[0]
        wav, codes = model.generate_continuation(prompt.expand(len(TEXTS), -1, -1), sample_rate, TEXTS,
                                                 progress=False, return_tokens=True)
    refs["continuation"] = codes
    # 4. codec decode of the greedy codes
    with torch.no_grad():
        refs["decoded"] = codec.decode(refs["greedy_nonoverlap"]).float()
    save_file({k: v.contiguous() for k, v in refs.items()}, folder / "refs.safetensors")
    print(f"{kind}: T={T}, files", sorted(p.name for p in folder.iterdir()))


def _hf_to_audiocraft(hf_state: dict[str, torch.Tensor], card: int) -> dict[str, torch.Tensor]:
    """transformers MusicGen decoder names -> audiocraft LMModel names (only used to build the reference)."""
    out: dict[str, torch.Tensor] = {}
    pre = "decoder.model.decoder."
    layers: dict[int, dict[str, torch.Tensor]] = {}
    for name, t in hf_state.items():
        if name.startswith("enc_to_dec_proj."):
            out["condition_provider.conditioners.description.output_proj." + name.split(".")[-1]] = t
        elif name.startswith("decoder.lm_heads."):
            out["linears." + name[len("decoder.lm_heads."):]] = t
        elif name.startswith(pre + "embed_tokens."):
            out["emb." + name[len(pre + "embed_tokens."):]] = t
        elif name.startswith(pre + "layer_norm."):
            out["out_norm." + name.split(".")[-1]] = t
        elif name.startswith(pre + "layers."):
            i, sub = name[len(pre + "layers."):].split(".", 1)
            layers.setdefault(int(i), {})[sub] = t
    ren = {"self_attn.out_proj.weight": "self_attn.out_proj.weight", "encoder_attn.out_proj.weight":
           "cross_attention.out_proj.weight", "fc1.weight": "linear1.weight", "fc2.weight": "linear2.weight"}
    for i, d in layers.items():
        p = f"transformer.layers.{i}."
        out[p + "self_attn.in_proj_weight"] = torch.cat([d[f"self_attn.{x}_proj.weight"] for x in "qkv"])
        out[p + "cross_attention.in_proj_weight"] = torch.cat([d[f"encoder_attn.{x}_proj.weight"] for x in "qkv"])
        for a, b in ren.items():
            out[p + b] = d[a]
        for a, b in (("self_attn_layer_norm", "norm1"), ("encoder_attn_layer_norm", "norm_cross"),
                     ("final_layer_norm", "norm2")):
            for w in ("weight", "bias"):
                out[p + f"{b}.{w}"] = d[f"{a}.{w}"]
    return out


def _byte_ids(tokenizer_file: Path, text: str) -> list[int]:
    from tokenizers import Tokenizer

    return Tokenizer.from_file(str(tokenizer_file)).encode(text).ids


def make_musicgen() -> None:
    """A MusicGen in audiocraft's layout with the weights of tests/conftest.py's tiny transformers checkpoint
    (seed 0): audiocraft's greedy guided codes are recorded, and checked here against transformers' first."""
    from omegaconf import OmegaConf
    from safetensors.torch import save_file
    from transformers import MusicgenForConditionalGeneration

    from audiocraft.models import builders
    from audiocraft.models.loaders import load_lm_model
    from audiocraft.modules.conditioners import ConditioningAttributes

    sys.path.insert(0, str(ROOT))
    from tests.conftest import write_hf_checkpoint

    folder = OUT / "musicgen"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    with tempfile.TemporaryDirectory() as tmp:
        hf_dir = write_hf_checkpoint(Path(tmp), seed=0)
        hf = MusicgenForConditionalGeneration.from_pretrained(hf_dir).eval()
        hf.text_encoder.save_pretrained(folder / "t5")
        shutil.copy(hf_dir / "tokenizer.json", folder / "t5" / "tokenizer.json")
    _patch_t5(hf.text_encoder, folder / "t5", "t5-base")
    card = hf.config.decoder.vocab_size
    lcfg = _lm_cfg("musicgen", card, "t5-base", segment=30)
    lm = builders.get_lm_model(OmegaConf.create(lcfg)).eval()
    missing = lm.load_state_dict(_hf_to_audiocraft(hf.state_dict(), card), strict=False)
    assert not missing.unexpected_keys and all("t5" in k for k in missing.missing_keys), missing
    lm = lm.half().float()  # the release stores float16: compare what loads back
    _export(folder, lm, lcfg)
    lm = load_lm_model(str(folder))
    text = TEXTS[0]
    with torch.no_grad():
        codes = lm.generate(conditions=[ConditioningAttributes(text={"description": text})], max_gen_len=30,
                            use_sampling=False, cfg_coef=3.0)
    # the mapping is checked by transformers itself: the same (float16-rounded) weights give the same codes
    with torch.no_grad():
        for p in hf.decoder.parameters():
            p.copy_(p.half().float())
        for p in hf.enc_to_dec_proj.parameters():
            p.copy_(p.half().float())
    seen = []
    orig = hf.audio_encoder.decode
    hf.audio_encoder.decode = lambda audio_codes, *a, **k: (seen.append(audio_codes[0].clone()), orig(audio_codes, *a, **k))[1]
    ids = torch.tensor([_byte_ids(folder / "t5" / "tokenizer.json", text)])
    with torch.no_grad():
        hf.generate(input_ids=ids, attention_mask=torch.ones_like(ids), do_sample=False, guidance_scale=3.0,
                    max_new_tokens=30)
    # transformers counts steps, start token included: the last frames of its higher codebooks are not generated
    n = seen[0].shape[-1] - 3
    assert n >= 20 and torch.equal(seen[0][..., :n], codes[..., :n]), "audiocraft and transformers disagree: the weight mapping is wrong"
    save_file({"greedy": codes.contiguous()}, folder / "refs.safetensors")
    print("musicgen:", tuple(codes.shape), sorted(p.name for p in folder.iterdir()))


SAMPLED = {  # audiocraft's sampled decoding (annealed temperature and guidance, top-p or top-k, re-masking by score)
    "sampled_top_p": dict(top_p=0.9, temperature=3.0),  # music's defaults
    "sampled_top_k": dict(top_p=0.0, top_k=20, temperature=2.0),
    "sampled_stride1": dict(top_p=0.8, temperature=3.5, span_arrangement="stride1"),
}
SAMPLED_SEED = 5


class SeededDraws:
    """audiocraft's samplers (utils.sample_top_p / sample_top_k / multinomial) run as they are, but draw with the
    noise loopgen draws with: an exponential race, argmax(p / -log u), u = loopgen's counter hash of (seed + row,
    pass, position, token). audiocraft's filtering, renormalising, temperature and guidance annealing and scoring are
    untouched; only torch's global RNG is replaced, so the tokens can be compared one for one."""

    def __init__(self, seed: int, rows: int):
        from audiocraft.utils import utils

        sys.path.insert(0, str(ROOT))
        from loopgen.models.sampling import uniforms

        self.utils, self.uniforms = utils, uniforms
        self.seeds = torch.arange(rows) + seed
        self.draws = 0  # passes made: one multinomial per pass
        self.order: torch.Tensor | None = None  # top-p sorts the vocabulary: the noise follows the tokens

    def __enter__(self):
        u = self.utils
        self.saved = (u.multinomial, u.torch.sort)
        real_sort = u.torch.sort

        def sort(x, *a, **k):
            out = real_sort(x, *a, **k)
            self.order = out[1]
            return out

        def multinomial(probs, num_samples, replacement=False, *, generator=None):  # probs [B, 1, T, V]
            self.draws += 1
            b, v = probs.shape[0], probs.shape[-1]
            n = probs[0].numel()
            noise = -torch.log(self.uniforms(self.seeds, torch.full_like(self.seeds, self.draws), n)).view(probs.shape)
            if self.order is not None:  # sorted by probability: each rank gets its token's noise
                noise = noise.gather(-1, self.order)
                self.order = None
            return (probs / noise).argmax(-1, keepdim=True)

        def sample_top_p(probs, p):
            u.torch.sort = sort
            try:
                return real_top_p(probs, p)
            finally:
                u.torch.sort = real_sort

        real_top_p = u.sample_top_p
        self.saved_top_p = real_top_p
        u.multinomial, u.sample_top_p = multinomial, sample_top_p
        return self

    def __exit__(self, *exc):
        self.utils.multinomial, self.utils.torch.sort = self.saved
        self.utils.sample_top_p = self.saved_top_p


def add_sampled(kind: str) -> None:
    """Sampled generations of the exported model in `kind`'s folder, added to its refs.safetensors."""
    from safetensors.torch import load_file, save_file

    from audiocraft.models.loaders import load_compression_model, load_lm_model_magnet
    from audiocraft.models.magnet import MAGNeT

    folder = OUT / kind
    from transformers import T5EncoderModel

    _patch_t5(T5EncoderModel.from_pretrained(str(folder / "t5")).eval(), folder / "t5",
              "t5-large" if "audio" in kind else "t5-base")
    codec = load_compression_model(str(folder))
    lm = load_lm_model_magnet(str(folder), compression_model_frame_rate=int(codec.frame_rate))
    model = MAGNeT(name=kind, compression_model=codec, lm=lm)
    refs = load_file(str(folder / "refs.safetensors"))
    model.set_generation_params(use_sampling=False, decoding_steps=[6, 3, 3, 3],
                                **({"temperature": 3.5, "top_p": 0.8, "max_cfg_coef": 20.0} if "audio" in kind else {}))
    with torch.no_grad():  # the same model as recorded: its greedy generation again
        assert torch.equal(model.generate(TEXTS, progress=False, return_tokens=True)[1], refs["greedy_nonoverlap"])
    for name, opts in SAMPLED.items():
        model.set_generation_params(use_sampling=True, decoding_steps=[6, 3, 3, 3], **opts)
        with torch.no_grad(), SeededDraws(SAMPLED_SEED, len(TEXTS)):
            refs[name] = model.generate(TEXTS, progress=False, return_tokens=True)[1].contiguous()
    save_file(refs, folder / "refs.safetensors")
    print(kind, "sampled:", {k: tuple(refs[k].shape) for k in SAMPLED})


if __name__ == "__main__" and "--sampled" in sys.argv:
    _stub_modules()
    torch.set_num_threads(1)
    add_sampled("magnet-music")
    add_sampled("magnet-audio")
elif __name__ == "__main__":
    _stub_modules()
    torch.set_num_threads(1)
    make_magnet("magnet-music", 32000, [8, 5, 4, 4], "t5-base", 24, seed=10)
    make_magnet("magnet-audio", 16000, [8, 5, 4, 2], "t5-large", 32, seed=20)
    make_musicgen()
