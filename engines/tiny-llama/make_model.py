"""Write dsdeploy's tiny test model: a random-weight llama-architecture GGUF (about 0.57 MB).

    python make_model.py OUT.gguf

Nothing is downloaded. The weights come from a fixed-seed numpy generator and the tokenizer is a
small SentencePiece-style ("llama") vocabulary built here, so every run writes the same bytes.
The text it generates is gibberish, but it is real llama.cpp inference and deterministic at
temperature 0.

Shape: 2 blocks, n_embd 64, 4 query heads / 2 KV heads, FFN 128, trained context 4096, all F32,
507 tokens (<unk> <s> </s>, 256 byte-fallback tokens, letters, ~70 words and their prefixes),
plus a ChatML chat template so /v1/chat/completions works too (with or without --jinja).

Run it with the tiny-llama venv's python (needs the `gguf` and `numpy` pinned in
requirements.txt); scripts/setup-tiny-engine.sh does that.
"""
from __future__ import annotations

import os
import sys

import gguf
import numpy as np

SEED = 0
N_LAYER = 2
N_EMBD = 64
N_HEAD = 4
N_HEAD_KV = 2
N_FF = 128
# llama-server caps a slot's context at the trained context; 4096 (llama-server b6000's default
# --ctx-size) keeps `-c` visible unclamped in /props. The weights do not depend on it.
N_CTX_TRAIN = 4096
MODEL_NAME = "dsdeploy-tiny-llama"

# Vocabulary words (SPM pieces "▁w", "▁wo", ... are added for each, so merges reach the whole word).
VOCAB_WORDS = """
the a an and or of to in on for with from is are was be this that it as at by
engine deploy host model server token stream ready start stop health reconcile
container process port config plan apply status running healthy pending error
hello world tiny llama test alpha beta gamma delta red green blue one two three
four five six seven eight nine ten yes no ok
""".split()

# ChatML: llama-server's built-in (non-jinja) template detection recognises it by `<|im_start|>`, so
# /v1/chat/completions works with and without --jinja (a custom template would need --jinja).
CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"
)

SPACE = "\u2581"  # SentencePiece's word-start marker


class Vocab:
    """Token list with scores and types, ids in insertion order."""

    def __init__(self) -> None:
        self.tokens: list[str] = []
        self.scores: list[float] = []
        self.types: list[int] = []
        self._seen: set[str] = set()

    def add(self, piece: str, score: float, ttype: int) -> None:
        if piece in self._seen:
            return
        self._seen.add(piece)
        self.tokens.append(piece)
        self.scores.append(score)
        self.types.append(ttype)

    def __len__(self) -> int:
        return len(self.tokens)


def build_vocab() -> Vocab:
    tt = gguf.TokenType
    v = Vocab()
    v.add("<unk>", 0.0, tt.UNKNOWN)  # 0
    v.add("<s>", 0.0, tt.CONTROL)  # 1 = BOS
    v.add("</s>", 0.0, tt.CONTROL)  # 2 = EOS
    for byte in range(256):  # byte fallback (<0x0A> and friends are required by llama.cpp)
        v.add(f"<0x{byte:02X}>", 0.0, tt.BYTE)
    v.add(SPACE, -1.0, tt.NORMAL)
    for ch in "abcdefghijklmnopqrstuvwxyz":
        v.add(ch, -2.0, tt.NORMAL)
        v.add(SPACE + ch, -2.0, tt.NORMAL)
    for rank, word in enumerate(VOCAB_WORDS):
        for end in range(2, len(word) + 1):
            # longer prefixes score higher; earlier words slightly higher than later ones
            v.add(SPACE + word[:end], -0.5 - (len(word) - end) * 0.1 - rank * 1e-3, tt.NORMAL)
    return v


def printable_byte_token(piece: str, ttype: int) -> bool:
    if ttype != gguf.TokenType.BYTE:
        return True
    return 0x20 <= int(piece[3:5], 16) < 0x7F


def write_model(path: str) -> Vocab:
    vocab = build_vocab()
    head_dim = N_EMBD // N_HEAD
    rng = np.random.default_rng(SEED)

    def linear(n_out: int, n_in: int) -> np.ndarray:
        # numpy (out, in); gguf-py stores it as GGUF ne = (in, out), which is what llama.cpp expects
        return (rng.standard_normal((n_out, n_in)) / np.sqrt(n_in)).astype(np.float32)

    def norm(n: int) -> np.ndarray:
        return np.ones(n, dtype=np.float32)

    w = gguf.GGUFWriter(path, "llama")
    w.add_name(MODEL_NAME)
    w.add_context_length(N_CTX_TRAIN)
    w.add_embedding_length(N_EMBD)
    w.add_block_count(N_LAYER)
    w.add_feed_forward_length(N_FF)
    w.add_head_count(N_HEAD)
    w.add_head_count_kv(N_HEAD_KV)
    w.add_rope_dimension_count(head_dim)
    w.add_rope_freq_base(10000.0)
    w.add_layer_norm_rms_eps(1e-5)
    w.add_vocab_size(len(vocab))
    w.add_file_type(gguf.LlamaFileType.ALL_F32)

    w.add_tokenizer_model("llama")
    w.add_token_list(vocab.tokens)
    w.add_token_scores(vocab.scores)
    w.add_token_types(vocab.types)
    w.add_unk_token_id(0)
    w.add_bos_token_id(1)
    w.add_eos_token_id(2)
    w.add_add_bos_token(True)
    w.add_add_eos_token(False)
    w.add_chat_template(CHAT_TEMPLATE)

    # Tensor creation order fixes the random stream, and with it the bytes of the file.
    w.add_tensor("token_embd.weight", linear(len(vocab), N_EMBD))
    for i in range(N_LAYER):
        blk = f"blk.{i}."
        w.add_tensor(blk + "attn_norm.weight", norm(N_EMBD))
        w.add_tensor(blk + "attn_q.weight", linear(N_HEAD * head_dim, N_EMBD))
        w.add_tensor(blk + "attn_k.weight", linear(N_HEAD_KV * head_dim, N_EMBD))
        w.add_tensor(blk + "attn_v.weight", linear(N_HEAD_KV * head_dim, N_EMBD))
        w.add_tensor(blk + "attn_output.weight", linear(N_EMBD, N_HEAD * head_dim))
        w.add_tensor(blk + "ffn_norm.weight", norm(N_EMBD))
        w.add_tensor(blk + "ffn_gate.weight", linear(N_FF, N_EMBD))
        w.add_tensor(blk + "ffn_up.weight", linear(N_FF, N_EMBD))
        w.add_tensor(blk + "ffn_down.weight", linear(N_EMBD, N_FF))
    w.add_tensor("output_norm.weight", norm(N_EMBD))
    head = linear(len(vocab), N_EMBD) * 4.0  # sharper logits: fewer ties, more word tokens
    # A lone byte >= 0x80 is invalid UTF-8 and control bytes are noise: give them zero logits so the
    # generated text stays printable.
    for tid, (piece, ttype) in enumerate(zip(vocab.tokens, vocab.types)):
        if not printable_byte_token(piece, ttype):
            head[tid] = 0.0
    w.add_tensor("output.weight", head)

    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    return vocab


def main(argv: list[str]) -> int:
    if len(argv) != 2 or argv[1].startswith("-"):
        print(f"usage: {os.path.basename(argv[0])} OUT.gguf", file=sys.stderr)
        return 2
    out = argv[1]
    tmp = out + ".tmp"
    vocab = write_model(tmp)
    os.replace(tmp, out)  # never leave a half-written model behind
    print(
        f"wrote {out} ({os.path.getsize(out)} bytes): llama, vocab {len(vocab)}, "
        f"{N_LAYER} layers, embd {N_EMBD}, heads {N_HEAD}/{N_HEAD_KV}, ff {N_FF}, ctx {N_CTX_TRAIN}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
