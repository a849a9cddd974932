"""PhoneXL's word-level phonemic encoder and its two losses (models/phonemic.py, objectives/
phonemic_alignment.py, objectives/word_mlm.py), on the tiny BERT of conftest.py."""

from __future__ import annotations

import math
import random
from pathlib import Path

import pytest
import torch

from scriptbridge.models import load_encoder
from scriptbridge.models.phonemic import (
    PhonemicEncoder,
    build_phonemic_encoder,
    build_word_batch,
    extend_tokenizer,
    missing_ipa_symbols,
    phonemic_vocabulary,
    resize_word_embeddings,
    split_ipa_symbols,
)
from scriptbridge.objectives.phonemic_alignment import OrthoPhonemicAlignmentLoss
from scriptbridge.objectives.word_mlm import WordMaskedLMLoss, WordMLMHead, choose_masked_words

IPA = ["tɕʰjɛn˧˥", "ʈʂən", "d͡ʒej", "tʰʊŋ˧˥ jɑŋ˥˩", "ɤ̆n ˧˩˧"]
# words of the tiny vocabulary: "parks" = park ##s, "greentea" = green ##t ##e ##a, "xyz" = [UNK]
WORDS = [["the", "parks", "greentea", "cat"], ["running", "on"], ["hello"]]
WORD_IPA = [["ðə", "pʰɑɹks", "ɡɹintʰi", "kʰæt"], ["ɹʌnɪŋ", "ɑn"], ["həlo͡ʊ"]]
DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


def _ids(tok, text: str) -> list[int]:
    return tok(text, add_special_tokens=False)["input_ids"]


@pytest.fixture
def encoder(tiny_encoder_dir):
    """A fresh tiny BERT (the tests extend its tokenizer and train it)."""
    torch.manual_seed(0)
    return load_encoder(str(tiny_encoder_dir), device="cpu")


@pytest.fixture
def phonemic(encoder):
    return build_phonemic_encoder(encoder, IPA + [p for s in WORD_IPA for p in s], ["zh", "vi"]).eval()


# ---------------------------------------------------------------------- IPA symbols and the tokenizer


def test_split_ipa_symbols_keeps_clusters_contours_and_affricates_whole():
    assert split_ipa_symbols("tʰʊŋ˧˥ jɑŋ˥˩") == ["t", "ʰ", "ʊ", "ŋ", "˧˥", "j", "ɑ", "ŋ", "˥˩"]
    assert split_ipa_symbols("d͡ʒej") == ["d͡ʒ", "e", "j"]
    assert split_ipa_symbols("hajkwɤ̆n ˧˩˧") == ["h", "a", "j", "k", "w", "ɤ̆", "n", "˧˩˧"]
    assert split_ipa_symbols("˧ ˥") == ["˧", "˥"]  # a space ends a contour


def test_missing_ipa_symbols_then_extension_removes_unknowns(encoder):
    tok, model = encoder.tokenizer, encoder.model
    unk = tok.unk_token_id
    assert all(unk in _ids(tok, s) for s in IPA)
    missing = missing_ipa_symbols(tok, IPA)
    assert missing == sorted(missing) == missing_ipa_symbols(tok, reversed(IPA))  # sorted, deterministic
    for symbol in ["ɕ", "ʰ", "ɛ", "ʈ", "ʂ", "ə", "d͡ʒ", "ɤ̆", "˧˥", "˥˩", "˧˩˧"]:
        assert symbol in missing
    assert {"˧", "˥", "˩"} <= set(missing)  # single tone letters: the fallback for unseen contours
    assert not {"t", "j", "n", "e"} & set(missing)  # known letters are not added

    old_rows = model.get_input_embeddings().weight.detach().clone()
    n_before = len(tok)
    added = extend_tokenizer(tok, missing)
    assert added == len(missing) and len(tok) == n_before + added
    assert resize_word_embeddings(model, len(tok), first_new_row=n_before) == added
    weight = model.get_input_embeddings().weight.detach()
    assert weight.shape[0] == len(tok)
    assert torch.equal(weight[:n_before], old_rows)
    assert torch.allclose(weight[n_before:], old_rows.mean(dim=0).expand(added, -1))
    for text in IPA + ["˧˩˧˥", "˥˧"]:  # an unseen contour splits into known tone letters
        assert unk not in _ids(tok, text), text
    assert "˧˥" in tok.convert_ids_to_tokens(_ids(tok, "tɕʰjɛn˧˥"))  # the contour is one piece
    assert missing_ipa_symbols(tok, IPA) == []
    assert extend_tokenizer(tok, missing) == 0
    # the orthographic side is unchanged for ordinary words
    assert tok.convert_ids_to_tokens(_ids(tok, "the parks")) == ["the", "park", "##s"]


def test_new_token_rows_are_set_even_where_the_table_has_spare_rows(encoder):
    """Tables may hold rows beyond the vocabulary (e5: 250,037 rows, 250,002 tokens); the rows the
    added tokens land on must be set to the mean, not left as they were."""
    tok, model = encoder.tokenizer, encoder.model
    n_tokens = len(tok)
    model.resize_token_embeddings(n_tokens + 10)  # spare rows with arbitrary values
    spare = model.get_input_embeddings().weight.detach().clone()
    added = extend_tokenizer(tok, ["ɕ", "ʈ", "˧˥"])
    assert added == 3
    assert resize_word_embeddings(model, len(tok), first_new_row=n_tokens) == 3
    weight = model.get_input_embeddings().weight.detach()
    assert weight.shape[0] == n_tokens + 10  # never shrunk
    assert torch.allclose(weight[n_tokens : n_tokens + 3], spare[:n_tokens].mean(dim=0).expand(3, -1))
    assert torch.equal(weight[n_tokens + 3 :], spare[n_tokens + 3 :])
    assert torch.equal(weight[:n_tokens], spare[:n_tokens])


def test_missing_ipa_symbols_skips_foreign_text_unless_asked(encoder):
    tok = encoder.tokenizer
    passthrough = ["жук", "ʈa"]  # PhoneXL's IPA column passes through what it cannot transcribe
    assert missing_ipa_symbols(tok, passthrough) == ["ʈ"]
    assert {"ж", "у", "к", "ʈ"} <= set(missing_ipa_symbols(tok, passthrough, ipa_only=False))


def test_phonemic_vocabulary_and_compact_table(phonemic):
    tok = phonemic.tokenizer
    vocab = phonemic_vocabulary(tok, IPA)
    assert vocab == sorted(set(vocab))
    assert set(vocab) == {i for s in IPA for i in _ids(tok, s)}
    full = phonemic.phonemic_vocab
    table = phonemic.phonemic_embeddings.weight
    assert table.shape[0] == len(full) + 1 < len(tok)  # compact: row 0 + the IPA ids only
    word_rows = phonemic.model.get_input_embeddings().weight
    assert torch.equal(table[1:], word_rows[full])  # initialised from the model's rows
    assert torch.equal(table[0], word_rows[tok.unk_token_id])
    ids = torch.tensor([full[0], full[-1], 0])  # id 0 ([PAD]) never occurs in IPA -> row 0
    assert phonemic._phonemic_rows(ids).tolist() == [1, len(full), 0]
    assert phonemic._phonemic_rows(torch.tensor([10_000])).tolist() == [0]  # beyond the tokenizer
    assert torch.count_nonzero(phonemic.language_embeddings.weight) == 0


# ---------------------------------------------------------------------- batches


def test_word_batch_slots_and_pooling_match_a_hand_loop(phonemic):
    tok = phonemic.tokenizer
    batch = build_word_batch(tok, WORDS, WORD_IPA, [0, 1, 0])
    assert batch.n_words == [4, 2, 1] and batch.seq_len == 6
    assert max(len(_ids(tok, w)) for s in WORDS for w in s) >= 4  # multi-subword words are covered
    assert batch.attention_mask.tolist() == [[1] * 6, [1, 1, 1, 1, 0, 0], [1, 1, 1, 0, 0, 0]]
    assert batch.word_mask.tolist() == [[True] * 4, [True, True, False, False], [True, False, False, False]]
    assert batch.mlm_targets is None

    with torch.no_grad():
        orth, phon = phonemic.input_embeddings(batch)
    emb = phonemic.model.get_input_embeddings().weight.detach()
    table = phonemic.phonemic_embeddings.weight.detach()
    row = phonemic.phonemic_row
    seen_slots = []
    for b, sentence in enumerate(WORDS):
        assert torch.allclose(orth[b, 0], emb[tok.cls_token_id])
        assert torch.allclose(orth[b, len(sentence) + 1], emb[tok.sep_token_id])
        assert torch.count_nonzero(phon[b, 0]) == 0 and torch.count_nonzero(phon[b, len(sentence) + 1]) == 0
        for m, word in enumerate(sentence):
            ids = _ids(tok, word)
            assert torch.allclose(orth[b, m + 1], emb[ids].mean(dim=0), atol=1e-6)
            ipa_ids = _ids(tok, WORD_IPA[b][m])
            assert torch.allclose(phon[b, m + 1], table[row[ipa_ids]].mean(dim=0), atol=1e-6)
            seen_slots += [b * batch.seq_len + m + 1] * len(ids)
        for position in range(len(sentence) + 2, batch.seq_len):  # padding
            assert torch.count_nonzero(orth[b, position]) == 0 and torch.count_nonzero(phon[b, position]) == 0
    specials = (tok.cls_token_id, tok.sep_token_id)
    pairs = zip(batch.orth_slot.tolist(), batch.orth_ids.tolist(), strict=True)
    assert [s for s, i in pairs if i not in specials] == seen_slots


def test_masking_keeps_phonemes_and_targets_line_up_with_word_slots(phonemic):
    tok = phonemic.tokenizer
    masks = [[False, True, True, False], [True, False], [False]]
    plain = build_word_batch(tok, WORDS, WORD_IPA, [0, 1, 0])
    masked = build_word_batch(tok, WORDS, WORD_IPA, [0, 1, 0], mask_words=masks)
    with torch.no_grad():
        orth0, phon0 = phonemic.input_embeddings(plain)
        orth1, phon1 = phonemic.input_embeddings(masked)
    emb = phonemic.model.get_input_embeddings().weight.detach()
    assert torch.equal(phon0, phon1)  # the IPA of masked words stays visible
    width = masked.seq_len - 2
    want_ids, want_index = [], []
    for b, sentence in enumerate(WORDS):
        for m, word in enumerate(sentence):
            if masks[b][m]:
                assert torch.allclose(orth1[b, m + 1], emb[tok.mask_token_id])
                want_ids += _ids(tok, word)
                want_index += [b * width + m] * len(_ids(tok, word))
            else:
                assert torch.equal(orth1[b, m + 1], orth0[b, m + 1])
    targets = masked.mlm_targets
    assert targets.token_ids.tolist() == want_ids
    assert targets.word_index.tolist() == want_index
    # "parks" (2 subwords) and "greentea" (4) and "running" (5): 11 targets from 3 word slots
    assert len(targets) == 11 and sorted(set(want_index)) == [1, 2, width]
    # the index addresses the word on the [B, L-2] grid the encoder returns
    out = phonemic(masked)
    flat = out["word_states"].reshape(-1, out["word_states"].shape[-1])
    assert torch.equal(flat[width], out["word_states"][1, 0])


def test_batch_tokenization_equals_the_tokenizer_call_even_after_a_padded_call(phonemic):
    tok = phonemic.tokenizer
    texts = [w for s in WORDS for w in s] + [p for s in WORD_IPA for p in s] + ["", "xyz"]
    want = tok(texts, add_special_tokens=False)["input_ids"]
    before = build_word_batch(tok, WORDS, WORD_IPA, [0, 0, 0])
    tok(["the cat", "a"], padding="max_length", truncation=True, max_length=6)  # may leave state behind
    after = build_word_batch(tok, WORDS, WORD_IPA, [0, 0, 0])
    assert torch.equal(before.orth_ids, after.orth_ids) and torch.equal(before.phon_ids, after.phon_ids)
    from scriptbridge.models.phonemic import _ids

    assert _ids(tok, texts) == want


def test_truncation_unknown_words_and_code_switched_languages(phonemic):
    tok = phonemic.tokenizer
    words = [["the", "cat", "sat", "on"], ["xyz", ""]]
    ipa = [["ðə", "kʰæt", "sæt", "ɑn"], ["", "ʈʂən"]]
    batch = build_word_batch(
        tok,
        words,
        ipa,
        [[1, 0, 0, 1], [0, 1]],
        mask_words=[[False, False, False, True], [True, False]],
        max_words=2,
        max_subwords_per_word=1,
    )
    assert batch.n_words == [2, 2] and batch.n_truncated_words == 2
    assert batch.seq_len == 4
    # the masked 4th word was cut; "xyz" is masked but [UNK] is no target
    assert len(batch.mlm_targets) == 0
    # words with an empty tokenization (""), and unknown words, get the unknown token
    unk = tok.unk_token_id
    sentence1 = [
        i for i, s in zip(batch.orth_ids.tolist(), batch.orth_slot.tolist(), strict=True) if s == 4 + 2
    ]
    assert sentence1 == [unk]
    phon1 = [i for i, s in zip(batch.phon_ids.tolist(), batch.phon_slot.tolist(), strict=True) if s == 4 + 1]
    assert phon1 == [unk]
    # languages per word; CLS/SEP/padding take the most frequent (ties: the first seen)
    assert batch.lang_ids.tolist() == [[1, 1, 0, 1], [0, 0, 1, 0]]
    long_word = build_word_batch(tok, [["greentea"]], [["ɡɹintʰi"]], [0], max_subwords_per_word=2)
    assert long_word.n_truncated_pieces == 2 and long_word.orth_ids.tolist()[1:3] == _ids(tok, "greentea")[:2]
    with pytest.raises(ValueError, match="IPA strings"):
        build_word_batch(tok, [["a", "b"]], [["a"]], [0])
    too_long = build_word_batch(tok, [["the"] * 70], None, [0])  # the tiny model has 64 positions
    with pytest.raises(ValueError, match="max_words"):
        phonemic(too_long)


# ---------------------------------------------------------------------- the encoder


def test_plain_word_inputs_equal_the_model_on_hand_built_embeddings(encoder):
    pe = PhonemicEncoder(encoder.model, encoder.tokenizer, languages=["en"], phonemic=False).eval()
    tok = encoder.tokenizer
    batch = pe.build_batch(WORDS, WORD_IPA, ["en"] * 3)
    emb = encoder.model.get_input_embeddings().weight.detach()
    inputs = torch.zeros(3, batch.seq_len, emb.shape[1])
    for b, sentence in enumerate(WORDS):
        inputs[b, 0] = emb[tok.cls_token_id]
        for m, word in enumerate(sentence):
            inputs[b, m + 1] = emb[_ids(tok, word)].mean(dim=0)
        inputs[b, len(sentence) + 1] = emb[tok.sep_token_id]
    with torch.no_grad():
        want = encoder.model(inputs_embeds=inputs, attention_mask=batch.attention_mask).last_hidden_state
        got = pe(batch)
    mask = batch.word_mask
    assert torch.allclose(got["word_states"][mask], want[:, 1:-1][mask], atol=1e-5)
    # an untrained phonemic model: the zero language table changes nothing, the phonemic vector does
    pe.phonemic = True
    with torch.no_grad():
        changed = pe(batch)["word_states"]
    assert not torch.allclose(changed[mask], got["word_states"][mask], atol=1e-3)


@pytest.mark.parametrize("architecture", ["bert", "xlm-roberta"])
def test_single_subword_words_equal_the_token_level_model(encoder, architecture):
    """With one subword per word, the word-level pass IS the ordinary token-level pass: the model's own
    embedding layer adds positions and segments for inputs_embeds (RoBERTa numbers them itself)."""
    tok = encoder.tokenizer
    if architecture == "bert":
        model = encoder.model
    else:
        from transformers import XLMRobertaConfig, XLMRobertaModel

        torch.manual_seed(1)
        config = XLMRobertaConfig(
            vocab_size=len(tok),
            hidden_size=32,
            num_hidden_layers=2,
            num_attention_heads=2,
            intermediate_size=64,
            max_position_embeddings=40,
            pad_token_id=tok.pad_token_id,
            type_vocab_size=1,
        )
        model = XLMRobertaModel(config, add_pooling_layer=False).eval()
    pe = PhonemicEncoder(model, tok, languages=["en"], phonemic=False).eval()
    words = [["the", "cat", "sat", "on", "mat"], ["hello", "tea"]]
    ids = [[tok.cls_token_id] + [_ids(tok, w)[0] for w in s] + [tok.sep_token_id] for s in words]
    assert all(len(_ids(tok, w)) == 1 for s in words for w in s)
    width = max(map(len, ids))
    input_ids = torch.tensor([row + [tok.pad_token_id] * (width - len(row)) for row in ids])
    attention = (input_ids != tok.pad_token_id).long()
    batch = build_word_batch(tok, words, None, [0, 0])
    with torch.no_grad():
        want = model(input_ids=input_ids, attention_mask=attention).last_hidden_state
        got = pe(batch)["last_hidden_state"]
    keep = attention.bool()
    assert torch.allclose(got[keep], want[keep], atol=1e-5)


def test_gradients_reach_the_phonemic_and_language_tables(phonemic):
    phonemic.train()
    batch = phonemic.build_batch(WORDS, WORD_IPA, ["zh", ["vi", "zh"], "vi"])
    out = phonemic(batch)
    (out["word_states"][out["word_mask"]].pow(2).sum() + out["phon"].sum()).backward()
    phon_grad = phonemic.phonemic_embeddings.weight.grad
    lang_grad = phonemic.language_embeddings.weight.grad
    used = phonemic._phonemic_rows(batch.phon_ids).unique()
    assert torch.count_nonzero(phon_grad[used].abs().sum(dim=1)) == len(used)
    assert torch.count_nonzero(lang_grad.abs().sum(dim=1)) == 2  # both languages occur
    assert phonemic.model.get_input_embeddings().weight.grad is not None


def test_language_embedding_switch_and_ids(phonemic):
    batch = phonemic.build_batch(WORDS, WORD_IPA, ["zh", "vi", "zh"])
    with torch.no_grad():
        phonemic.language_embeddings.weight.normal_()
        with_lang = phonemic(batch)["word_states"]
        phonemic.language_embedding = False
        without = phonemic(batch)["word_states"]
    assert not torch.allclose(with_lang, without)
    with pytest.raises(ValueError, match="unknown language"):
        phonemic.build_batch(WORDS, WORD_IPA, ["zh", "ko", "zh"])
    with pytest.raises(ValueError, match="out of range"):
        phonemic(build_word_batch(phonemic.tokenizer, WORDS, WORD_IPA, [0, 5, 0]))


def test_save_and_load_round_trip(phonemic, tmp_path):
    with torch.no_grad():
        phonemic.phonemic_embeddings.weight.add_(torch.randn_like(phonemic.phonemic_embeddings.weight))
        phonemic.language_embeddings.weight.normal_()
    phonemic.save(tmp_path)
    batch = phonemic.build_batch(WORDS, WORD_IPA, ["zh", ["vi", "zh"], "vi"])
    loaded = PhonemicEncoder.load(tmp_path, phonemic.model, phonemic.tokenizer).eval()
    assert loaded.languages == ["zh", "vi"] and loaded.phonemic_vocab == phonemic.phonemic_vocab
    assert loaded.added_ipa_symbols == phonemic.added_ipa_symbols
    with torch.no_grad():
        assert torch.equal(loaded(batch)["word_states"], phonemic(batch)["word_states"])
    phonemic.tokenizer.add_tokens(["ʘ"])
    with pytest.raises(ValueError, match="extended tokenizer"):
        PhonemicEncoder.load(tmp_path, phonemic.model, phonemic.tokenizer)


def test_unresized_model_is_refused(encoder):
    extend_tokenizer(encoder.tokenizer, ["ɕ"])
    with pytest.raises(ValueError, match="resize_word_embeddings"):
        PhonemicEncoder(encoder.model, encoder.tokenizer, languages=["zh"])


# ---------------------------------------------------------------------- alignment loss


def _alignment_by_loop(orth, phon, mask, scale):
    """L_align, one sentence at a time, with torch's own cross-entropy."""
    per_sentence = []
    for b in range(orth.shape[0]):
        keep = mask[b]
        if not keep.any():
            continue
        o = torch.nn.functional.normalize(orth[b][keep], dim=-1)
        p = torch.nn.functional.normalize(phon[b][keep], dim=-1)
        logits = scale * o @ p.T
        target = torch.arange(len(o))
        ce = torch.nn.functional.cross_entropy
        per_sentence.append((ce(logits, target) + ce(logits.T, target)) / 2)
    return torch.stack(per_sentence).mean()


def test_alignment_matches_a_per_sentence_loop_and_ignores_padding():
    torch.manual_seed(0)
    orth, phon = torch.randn(4, 5, 8), torch.randn(4, 5, 8)
    mask = torch.tensor(
        [[1, 1, 1, 1, 1], [1, 1, 1, 0, 0], [1, 0, 0, 0, 0], [0, 0, 0, 0, 0]], dtype=torch.bool
    )
    loss = OrthoPhonemicAlignmentLoss()
    got = loss({"orth": orth, "phon": phon, "word_mask": mask})
    assert torch.allclose(got, _alignment_by_loop(orth, phon, mask, 1 / 0.07), atol=1e-5)
    # padding values, and more padding, change nothing
    noisy_orth = torch.where(mask[..., None], orth, torch.randn_like(orth) * 100)
    wider = (
        torch.cat([noisy_orth, torch.randn(4, 3, 8)], dim=1),
        torch.cat([phon, torch.randn(4, 3, 8)], dim=1),
    )
    wide_mask = torch.cat([mask, torch.zeros(4, 3, dtype=torch.bool)], dim=1)
    assert torch.allclose(loss.compute_loss_from_embeddings(*wider, wide_mask), got, atol=1e-5)
    # each word vector is normalised on its own: scaling one word's vector changes nothing
    scaled = orth.clone()
    scaled[0, 2] *= 50
    assert torch.allclose(loss.compute_loss_from_embeddings(scaled, phon, mask), got, atol=1e-5)
    # a one-word sentence contributes log(1) = 0 (and is counted)
    one = loss.compute_loss_from_embeddings(orth[2:3], phon[2:3], mask[2:3])
    assert one.item() == pytest.approx(0.0, abs=1e-6)
    empty = loss.compute_loss_from_embeddings(orth[3:], phon[3:], mask[3:])
    assert empty.item() == 0.0


def test_alignment_of_perfectly_aligned_words_is_near_zero_and_scale_is_clamped():
    vectors = torch.eye(6)[None].repeat(2, 1, 1)  # orthogonal words, orth == phon
    mask = torch.ones(2, 6, dtype=torch.bool)
    loss = OrthoPhonemicAlignmentLoss()
    with torch.no_grad():
        loss.logit_scale.fill_(math.log(1000.0))
    assert loss.scale.item() == pytest.approx(100.0)  # clamped like CLIP
    assert loss.compute_loss_from_embeddings(vectors, vectors, mask).item() < 1e-6
    torch.manual_seed(0)
    orth, phon = torch.randn(2, 6, 8), torch.randn(2, 6, 8)
    assert torch.allclose(
        loss.compute_loss_from_embeddings(orth, phon, mask),
        _alignment_by_loop(orth, phon, mask, 100.0),
        atol=1e-4,
    )
    fresh = OrthoPhonemicAlignmentLoss()
    assert fresh.scale.item() == pytest.approx(1 / 0.07)
    fresh.compute_loss_from_embeddings(orth, phon, mask).backward()
    assert fresh.logit_scale.grad is not None and fresh.logit_scale.grad.item() != 0


# ---------------------------------------------------------------------- word MLM


def test_choose_masked_words():
    rng = random.Random(0)
    masks = choose_masked_words([10, 3, 1, 0], 0.25, rng)
    assert [sum(m) for m in masks] == [3, 1, 1, 0]  # 2.5 -> 3 (half up), at least one, none of none
    assert [len(m) for m in masks] == [10, 3, 1, 0]
    assert masks == choose_masked_words([10, 3, 1, 0], 0.25, random.Random(0))
    assert choose_masked_words([4], 0.0, rng) == [[False] * 4]
    assert choose_masked_words([4], 1.0, rng) == [[True] * 4]
    with pytest.raises(ValueError):
        choose_masked_words([4], 1.5, rng)


def test_word_mlm_loss_equals_a_hand_computed_cross_entropy(phonemic):
    masks = [[False, True, False, False], [True, False], [False]]
    batch = phonemic.build_batch(WORDS, WORD_IPA, ["zh", "vi", "zh"], mask_words=masks)
    embeddings = phonemic.model.get_input_embeddings()
    head = WordMLMHead(embeddings)
    loss = WordMaskedLMLoss(head)
    assert all(p is not embeddings.weight for p in head.parameters())  # tied, not owned
    with torch.no_grad():
        head.bias.normal_()
        out = phonemic(batch)
        got = loss(out, batch.mlm_targets)
        states = out["word_states"]
        h = head.layer_norm(torch.nn.functional.gelu(head.dense(states)))
        logp = torch.log_softmax(h @ embeddings.weight.T + head.bias, dim=-1)  # every position
    tok = phonemic.tokenizer
    terms = [-logp[0, 1, i] for i in _ids(tok, "parks")] + [-logp[1, 0, i] for i in _ids(tok, "running")]
    assert len(terms) == 7
    assert got.item() == pytest.approx(torch.stack(terms).mean().item(), rel=1e-5)
    with pytest.raises(ValueError, match="mask_words"):
        loss(out, None)
    nothing = phonemic.build_batch(WORDS, WORD_IPA, ["zh"] * 3, mask_words=[[False] * len(s) for s in WORDS])
    assert loss(phonemic(nothing), nothing.mlm_targets).item() == 0.0


def test_short_training_lowers_both_losses(phonemic):
    torch.manual_seed(0)
    head = WordMLMHead(phonemic.model.get_input_embeddings())
    mlm = WordMaskedLMLoss(head)
    align = OrthoPhonemicAlignmentLoss()
    params = list(phonemic.parameters()) + list(head.parameters()) + list(align.parameters())
    assert len({id(p) for p in params}) == len(params)  # the tied matrix is listed once
    optimizer = torch.optim.AdamW(params, lr=3e-3)
    masks = [[False, True, True, False], [True, False], [True]]
    batch = phonemic.build_batch(WORDS, WORD_IPA, ["zh", ["vi", "zh"], "vi"], mask_words=masks)
    phonemic.train()
    history = []
    for _ in range(100):
        out = phonemic(batch)
        l_mlm, l_align = mlm(out, batch.mlm_targets), align(out)
        optimizer.zero_grad()
        (l_mlm + l_align).backward()
        optimizer.step()
        history.append((l_mlm.item(), l_align.item()))
    assert history[-1][0] < 0.5 * history[0][0]
    assert history[-1][1] < 0.5 * history[0][1]


# ---------------------------------------------------------------------- the embedded encoder


def _read_phonexl(path: Path, limit: int) -> tuple[list[list[str]], list[list[str]]]:
    words, ipa, sent_w, sent_p = [], [], [], []
    for line in path.read_text(encoding="utf-8").splitlines():
        parts = line.split("\t")
        if len(parts) < 3:
            if sent_w:
                words.append(sent_w)
                ipa.append(sent_p)
                sent_w, sent_p = [], []
                if len(words) == limit:
                    break
            continue
        sent_w.append(parts[0])
        sent_p.append(parts[2])
    return words, ipa


@pytest.mark.slow
def test_embedded_encoder_with_phonexl_ipa():
    folder = DATA / "cjkv_phonemic" / "download" / "full_updated_udpos"
    if not (folder / "dev-zh.tsv").is_file() or not (folder / "dev-vi.tsv").is_file():
        pytest.skip(f"PhoneXL data not found under {folder}")
    zh_words, zh_ipa = _read_phonexl(folder / "dev-zh.tsv", 200)
    vi_words, vi_ipa = _read_phonexl(folder / "dev-vi.tsv", 200)
    encoder = load_encoder("embedded", device="cpu")
    before = len(encoder.tokenizer)
    all_ipa = [p for s in zh_ipa + vi_ipa for p in s]
    pe = build_phonemic_encoder(encoder, all_ipa, ["zh", "vi"]).eval()
    added = pe.added_ipa_symbols
    # e5's sentencepiece knows most IPA letters; the Mandarin retroflexes and tone contours it lacks
    assert {"ʂ", "ʈ", "˧˥", "˥˩", "˧˩˧"} <= set(added) and len(added) < 30
    assert len(encoder.tokenizer) == before + len(added)
    weight = encoder.model.get_input_embeddings().weight.detach()
    assert weight.shape[0] >= len(encoder.tokenizer)  # e5's table has spare rows: no resize needed
    mean = weight[:before].mean(dim=0)
    assert torch.allclose(weight[before : len(encoder.tokenizer)], mean.expand(len(added), -1), atol=1e-6)
    unk = encoder.tokenizer.unk_token_id
    assert not any(
        unk in row for row in encoder.tokenizer(sorted(set(all_ipa)), add_special_tokens=False)["input_ids"]
    )
    n_rows = pe.phonemic_embeddings.num_embeddings
    assert 100 < n_rows < 20_000  # compact: a few thousand rows instead of 250k
    batch = pe.build_batch(zh_words[:4] + vi_words[:4], zh_ipa[:4] + vi_ipa[:4], ["zh"] * 4 + ["vi"] * 4)
    with torch.no_grad():
        out = pe(batch)
    assert out["word_states"].shape == (8, batch.seq_len - 2, 384)
    assert torch.isfinite(out["word_states"][out["word_mask"]]).all()


def test_lone_boundary_pieces_leave_multi_piece_words() -> None:
    """XLM-R-style tokenizers split most CJK words and IPA strings as ["▁", piece]: the lone "▁"
    leaves a word's pieces when the word has others, and stays when it is the only one."""
    from scriptbridge.models.phonemic import _without_marker

    class Stub:
        unk_token_id = 3

        def convert_tokens_to_ids(self, token: str) -> int:
            return 6 if token == "\u2581" else self.unk_token_id

    assert _without_marker([[6, 10], [11], [6], [6, 12, 13], [10, 6]], Stub()) == [
        [10],
        [11],
        [6],
        [12, 13],
        [10],
    ]

    class WordPiece(Stub):
        def convert_tokens_to_ids(self, token: str) -> int:
            return self.unk_token_id  # no boundary piece: nothing changes

    assert _without_marker([[6, 10]], WordPiece()) == [[6, 10]]
