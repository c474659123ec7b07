#!/usr/bin/env python3
"""Writes a small Hugging Face tokenizer directory for the peer benchmark, offline.

    python make_tokenizer.py OUT_DIR

bench_serving needs a tokenizer (to build random-ids prompts and to re-count the streamed text).
This one is a WordLevel model split on whitespace: the words dsdeploy-engine-sim streams (one word
per token) plus "t0".."t999" for prompts, so every simulator token re-counts as exactly one token.
No network: `tokenizers` builds it, `transformers` saves it so AutoTokenizer can load it.
"""
import json
import os
import sys

from tokenizers import Tokenizer, decoders, models, pre_tokenizers
from transformers import PreTrainedTokenizerFast

# The simulator's filler words (Sources/EngineSim/TimingModel.swift, SimTokens).
SIM_WORDS = ("the quick brown fox jumps over a lazy dog while seven silver engines hum in steady "
             "rhythm and data flows").split()


def main() -> None:
    if len(sys.argv) != 2:
        sys.exit("usage: make_tokenizer.py OUT_DIR")
    out = sys.argv[1]
    vocab = {"<unk>": 0, "<s>": 1, "</s>": 2}
    for word in SIM_WORDS + [f"t{i}" for i in range(1000)]:
        vocab.setdefault(word, len(vocab))
    tok = Tokenizer(models.WordLevel(vocab=vocab, unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    tok.decoder = decoders.WordPiece(prefix="##")  # decode joins words with one space
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, unk_token="<unk>", bos_token="<s>",
                                   eos_token="</s>", model_max_length=1 << 20)
    fast.save_pretrained(out)
    # Name a class that every transformers version knows.
    cfg_path = os.path.join(out, "tokenizer_config.json")
    with open(cfg_path) as f:
        cfg = json.load(f)
    cfg["tokenizer_class"] = "PreTrainedTokenizerFast"
    with open(cfg_path, "w") as f:
        json.dump(cfg, f, indent=2)
    print(f"{out}: {len(vocab)} tokens")


if __name__ == "__main__":
    main()
