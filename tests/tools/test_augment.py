"""`hf-sts augment back-translate` (hf_sts/tools/augment.py): the translation mechanics on a tiny random Marian model built
here (batching, order, one translation per distinct sentence, the resumable side file), the cosine filter's three kinds
of model, the output layout, training on original + augmented pairs, and bad input. The real multilingual-e5-small
filter (a close paraphrase kept, an unrelated sentence dropped) is in the `pretrained` tier."""

import importlib.util
import json
import math
import re

import numpy as np
import pandas as pd
import pytest
import torch
from tokenizers import Tokenizer, models, pre_tokenizers, processors
from transformers import MarianConfig, MarianMTModel, PreTrainedTokenizerFast

from hf_sts.cli.main import main as hf_sts_cli
from hf_sts.data.readers import load_sts_datasets, read_sts_file
from hf_sts.run import main as run_main
from hf_sts.tools.augment import (
    AugmentError,
    Translator,
    back_translate_file,
    language_token_id,
    load_sentence_encoder,
    load_translation_model,
    pair_cosines,
    partial_path,
    translate_sentences,
)

from ..conftest import KLUE_DEV, KLUE_TRAIN, QUICKSTART, TINY, refusal_line, write_competition_csv


PAIRS = 16  # KLUE-STS dev pairs in the test input
VOCABULARY_PAIRS = 40  # the pairs whose words make the tiny translation model's vocabulary
LANGUAGE_TOKENS = ["__ko__", "__en__"]


@pytest.fixture(scope="module")
def klue_pairs():
    return read_sts_file(KLUE_DEV).select(range(VOCABULARY_PAIRS))


@pytest.fixture(scope="module")
def tiny_mt(tmp_path_factory, klue_pairs):
    """A tiny random Marian translation model (d_model 16, 1 layer each side) and a word-level tokenizer of the test
    pairs' words with two language tokens, saved as a model folder. Weights drawn with std 2 so that its greedy
    outputs depend on the input (at transformers' default 0.02 every input decodes to the same text)."""
    sentences = klue_pairs["sentence1"][:] + klue_pairs["sentence2"][:]
    specials = ["<pad>", "</s>", "<unk>", *LANGUAGE_TOKENS]
    words = sorted({word for sentence in sentences for word in sentence.split()})
    backend = Tokenizer(models.WordLevel({token: i for i, token in enumerate(specials + words)}, unk_token="<unk>"))
    backend.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    backend.post_processor = processors.TemplateProcessing(single="$A </s>", special_tokens=[("</s>", 1)])
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=backend,
        pad_token="<pad>",
        eos_token="</s>",
        unk_token="<unk>",
        additional_special_tokens=LANGUAGE_TOKENS,
    )
    config = MarianConfig(
        vocab_size=len(specials) + len(words),
        d_model=16,
        encoder_layers=1,
        decoder_layers=1,
        encoder_attention_heads=2,
        decoder_attention_heads=2,
        encoder_ffn_dim=32,
        decoder_ffn_dim=32,
        max_position_embeddings=64,
        pad_token_id=0,
        eos_token_id=1,
        decoder_start_token_id=0,
        forced_eos_token_id=1,
        init_std=2.0,
    )
    torch.manual_seed(0)
    folder = tmp_path_factory.mktemp("tiny-mt")
    MarianMTModel(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


@pytest.fixture(scope="module")
def train_csv(tmp_path_factory, klue_pairs):
    """The test pairs as a competition CSV (binary labels included)."""
    path = tmp_path_factory.mktemp("augment-input") / "train.csv"
    write_competition_csv(klue_pairs.select(range(PAIRS)), path, id_prefix="train")
    return path


@pytest.fixture
def count_translations(monkeypatch):
    """Records every sentence each `Translator` is asked to translate: `{model name + direction: [sentences]}`."""
    calls: dict[str, list[str]] = {}
    original = Translator.translate_batch

    def recording(self, texts):
        calls.setdefault(f"{self.name}:{self.source_lang}", []).extend(texts)
        return original(self, texts)

    monkeypatch.setattr(Translator, "translate_batch", recording)
    return calls


def _translator(tiny_mt, **kwargs) -> Translator:
    model, tokenizer = load_translation_model(str(tiny_mt), device="cpu")
    return Translator(model, tokenizer, str(tiny_mt), max_length=8, num_beams=1, **kwargs)


def test_batches_give_the_single_sentence_translations_in_input_order_once_each(tiny_mt, klue_pairs):
    translator = _translator(tiny_mt)
    sentences = klue_pairs["sentence1"][:][:8] * 2 + klue_pairs["sentence2"][:][:8]  # every first sentence twice
    distinct = list(dict.fromkeys(sentences))
    alone = {sentence: translator.translate_batch([sentence])[0] for sentence in distinct}
    assert len(set(alone.values())) > len(distinct) / 2  # the outputs depend on the input: order is testable
    asked = []
    original = translator.translate_batch
    translator.translate_batch = lambda texts: asked.append(list(texts)) or original(texts)
    cache = {}
    saved = []
    translations = translate_sentences(
        sentences, translator, batch_size=5, cache=cache, on_batch=lambda *batch: saved.append(batch)
    )
    assert translations == [alone[sentence] for sentence in sentences]
    assert sorted(sum(asked, [])) == sorted(distinct)  # each distinct sentence once
    assert [len(batch) for batch in asked] == [5, 5, 5, 1]
    lengths = [len(sentence) for sentence in sum(asked, [])]
    assert lengths == sorted(lengths, reverse=True)  # longest first
    assert cache == alone
    assert dict(pair for sources, outputs in saved for pair in zip(sources, outputs, strict=True)) == alone
    asked.clear()
    assert translate_sentences(sentences, translator, cache=cache) == translations and not asked  # all cached


def test_language_codes_of_a_multilingual_model(tiny_mt, klue_pairs):
    translator = _translator(tiny_mt)
    english = language_token_id(translator.tokenizer, "__en__", "tiny")
    assert english == translator.tokenizer.convert_tokens_to_ids("__en__")
    with pytest.raises(AugmentError, match=r"tiny: its tokenizer has no language code 'kor_Hang'"):
        language_token_id(translator.tokenizer, "kor_Hang", "tiny")

    class M2M100Like:  # M2M100's tokenizer: `get_lang_id`, a KeyError for an unknown code
        def get_lang_id(self, code):
            return {"ko": 128_042, "en": 128_022}[code]

    assert language_token_id(M2M100Like(), "ko", "m2m") == 128_042
    with pytest.raises(AugmentError, match=r"m2m: its tokenizer has no language code 'kor_Hang'"):
        language_token_id(M2M100Like(), "kor_Hang", "m2m")
    # The target language's token is forced first; the source language is set on the tokenizer before each batch.
    word = translator.tokenizer.convert_tokens_to_ids(klue_pairs["sentence1"][:][0].split()[0])
    forced = _translator(tiny_mt, source_lang="__ko__", forced_bos_token_id=word)
    outputs = forced.translate_batch(klue_pairs["sentence2"][:][:6])
    assert all(output.split()[0] == klue_pairs["sentence1"][:][0].split()[0] for output in outputs), outputs
    assert forced.tokenizer.src_lang == "__ko__"


def _back_translate(tiny_mt, filter_model, input_file, output, *extra) -> list[str]:
    arguments = ["augment", "back-translate", "--input", str(input_file), "--output", str(output)]
    arguments += ["--model", str(tiny_mt), "--source_lang", "__ko__", "--pivot_lang", "__en__", "--max_length", "8"]
    hf_sts_cli([*arguments, "--filter_model", str(filter_model), "--device", "cpu", "--batch_size", "8", *extra])


def test_back_translate_writes_the_augmented_pairs_with_provenance(
    tiny_mt, stand_in_encoders, train_csv, tmp_path, count_translations, capsys
):
    encoder = stand_in_encoders["bert"]
    output = tmp_path / "out" / "aug.csv"
    _back_translate(tiny_mt, encoder, train_csv, output, "--min_cosine", "-1")
    stdout = capsys.readouterr().out
    original = pd.read_csv(train_csv)
    augmented = pd.read_csv(output)
    assert list(augmented.columns) == [
        *("id", "source", "sentence_1", "sentence_2", "label", "binary-label"),
        *("original_id", "cosine_1", "cosine_2"),
    ]
    assert len(augmented) == PAIRS  # min_cosine -1 keeps every pair
    assert list(augmented.original_id) == list(original.id)  # input order
    assert list(augmented.id) == [f"{id_}-bt" for id_ in original.id]
    assert list(augmented.source) == [f"{source}-bt" for source in original.source]
    assert augmented.label.tolist() == original.label.tolist()
    assert augmented["binary-label"].tolist() == original["binary-label"].tolist()
    # Each distinct sentence is translated once per direction; the sentences are the back-translations.
    originals = [*original.sentence_1, *original.sentence_2]
    assert sorted(count_translations[f"{tiny_mt}:__ko__"]) == sorted(set(originals))
    backward_asked = count_translations[f"{tiny_mt}:__en__"]
    assert len(backward_asked) == len(set(backward_asked))
    tokenizer = _translator(tiny_mt).tokenizer
    forward = _translator(
        tiny_mt, source_lang="__ko__", forced_bos_token_id=language_token_id(tokenizer, "__en__", "")
    )
    backward = _translator(
        tiny_mt, source_lang="__en__", forced_bos_token_id=language_token_id(tokenizer, "__ko__", "")
    )
    assert augmented.sentence_1[7] == backward.translate_batch(forward.translate_batch([original.sentence_1[7]]))[0]
    # The cosines are the filter model's, recomputed here.
    filter_encoder = load_sentence_encoder(str(encoder), max_length=8, device="cpu")
    cosines = pair_cosines(filter_encoder, originals, [*augmented.sentence_1, *augmented.sentence_2])
    np.testing.assert_allclose(augmented.cosine_1, cosines[:PAIRS], atol=1e-4)
    np.testing.assert_allclose(augmented.cosine_2, cosines[PAIRS:], atol=1e-4)
    assert not partial_path(output).exists()  # the side file goes once the output is complete
    assert f"{PAIRS} pairs in {train_csv}; {PAIRS} back-translated" in stdout
    assert f"kept {PAIRS} of {PAIRS} (100.0%) with both cosines >= -1" in stdout
    assert f"Wrote {PAIRS} augmented pairs to {output}" in stdout
    reread = read_sts_file(output)
    assert reread["id"][:] == list(augmented.id) and reread["binary_label"][:] == original["binary-label"].tolist()

    # The filter keeps a pair only where BOTH cosines reach the threshold: between the two middle values of the
    # smaller cosine, half the pairs go, and one cosine above it is not enough. (The same back-translations, given as
    # translation columns.)
    lower = np.sort(np.minimum(cosines[:PAIRS], cosines[PAIRS:]))
    assert lower[PAIRS // 2] - lower[PAIRS // 2 - 1] > 1e-5
    threshold = float(lower[PAIRS // 2 - 1] + lower[PAIRS // 2]) / 2
    both = (cosines[:PAIRS] >= threshold) & (cosines[PAIRS:] >= threshold)
    assert ((cosines[:PAIRS] >= threshold) & ~both).any() or ((cosines[PAIRS:] >= threshold) & ~both).any()
    columns = tmp_path / "columns.csv"
    original.assign(bt_1=augmented.sentence_1, bt_2=augmented.sentence_2).to_csv(columns, index=False)
    filtered = tmp_path / "filtered.csv"
    arguments = ["augment", "back-translate", "--input", str(columns), "--output", str(filtered)]
    arguments += ["--translation_columns", "bt_1", "bt_2", "--filter_model", str(encoder), "--max_length", "8"]
    hf_sts_cli([*arguments, "--min_cosine", str(threshold)])
    kept = pd.read_csv(filtered)
    assert list(kept.original_id) == list(original.id[both]) and len(kept) == PAIRS // 2
    assert list(kept.sentence_1) == list(augmented.sentence_1[both])


def test_an_interrupted_run_resumes_from_its_side_file(tiny_mt, stand_in_encoders, train_csv, tmp_path, monkeypatch):
    encoder = stand_in_encoders["bert"]
    complete = tmp_path / "complete.csv"
    _back_translate(tiny_mt, encoder, train_csv, complete, "--min_cosine", "-1")

    output = tmp_path / "resumed.csv"
    original = Translator.translate_batch
    calls = []

    def interrupted(self, texts):
        calls.append(list(texts))
        if len(calls) == 3:
            raise KeyboardInterrupt  # as Ctrl-C in the third batch
        return original(self, texts)

    monkeypatch.setattr(Translator, "translate_batch", interrupted)
    with pytest.raises(KeyboardInterrupt):
        _back_translate(tiny_mt, encoder, train_csv, output, "--min_cosine", "-1")
    assert not output.exists()  # no partial output
    lines = partial_path(output).read_text(encoding="utf-8").splitlines()
    assert json.loads(lines[0])["settings"]["forward_model"] == str(tiny_mt)
    cached = [json.loads(line)["source"] for line in lines[1:]]
    assert sorted(cached) == sorted(calls[0] + calls[1])  # the two finished batches of 8
    with open(partial_path(output), "a", encoding="utf-8") as file:
        file.write('{"direction": "forward", "source": "cut')  # a line cut short by the interruption

    retranslated = []
    monkeypatch.setattr(
        Translator, "translate_batch", lambda self, texts: retranslated.extend(texts) or original(self, texts)
    )
    _back_translate(tiny_mt, encoder, train_csv, output, "--min_cosine", "-1")
    assert not set(cached) & set(retranslated)  # what was cached is not translated again
    pd.testing.assert_frame_equal(pd.read_csv(output), pd.read_csv(complete))
    assert not partial_path(output).exists()


def test_filter_models_sentence_transformers_hf_sts_bi_encoder_and_plain_encoder(
    stand_in_encoders, tiny_model, tokenizer, tmp_path
):
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.models import Pooling, Transformer

    encoder = str(stand_in_encoders["bert"])
    texts = ["오늘 날씨가 좋다.", "내일은 비가 온다.", "숙소가 깨끗했어요."]
    others = ["날씨가 좋은 날이다.", "오늘 날씨가 좋다.", "숙소가 깨끗했어요."]
    plain = load_sentence_encoder(encoder, device="cpu")  # mean pooling
    expected = pair_cosines(plain, texts, others)
    assert expected.shape == (3,) and expected[0] < 0.9999 and math.isclose(expected[2], 1.0, abs_tol=1e-6)

    transformer = Transformer(encoder)
    folder = tmp_path / "st"
    SentenceTransformer(modules=[transformer, Pooling(transformer.get_embedding_dimension(), "mean")]).save(
        str(folder)
    )
    st = load_sentence_encoder(str(folder), device="cpu")
    assert "sentence-transformers" in st.description
    np.testing.assert_allclose(pair_cosines(st, texts, others), expected, atol=1e-5)

    model = tiny_model("bert", "bi-encoder")
    model.save_pretrained(tmp_path / "bi")
    tokenizer.save_pretrained(tmp_path / "bi")
    bi = load_sentence_encoder(str(tmp_path / "bi"), device="cpu")
    batch = model.tokenize(tokenizer, texts, others, padding=True, return_tensors="pt")
    with torch.no_grad():
        scores = model(**batch).logits  # 5 x cosine
    np.testing.assert_allclose(pair_cosines(bi, texts, others), scores.numpy() / 5, atol=1e-5)

    prompted = load_sentence_encoder(encoder, prompt="query: ", device="cpu")
    assert not np.allclose(pair_cosines(prompted, texts, others), expected)  # the prompt is applied


def test_training_on_the_original_and_the_augmented_file(tiny_mt, stand_in_encoders, tmp_path):
    train = read_sts_file(KLUE_DEV).select(range(100, 100 + PAIRS))  # with binary labels
    write_competition_csv(train, tmp_path / "train.csv", id_prefix="train")
    aug = tmp_path / "aug.csv"
    _back_translate(tiny_mt, stand_in_encoders["bert"], tmp_path / "train.csv", aug, "--min_cosine", "-1")
    output_dir = tmp_path / "run"
    files = ["--train_file", str(tmp_path / "train.csv"), str(aug), "--validation_file", str(KLUE_DEV)]
    run_main([QUICKSTART, *files, *TINY, "--max_eval_samples=16", "--output_dir", str(output_dir)])
    results = json.loads((output_dir / "all_results.json").read_text())
    assert results["train_samples"] == 2 * PAIRS, results  # the original pairs and their back-translations
    assert "eval_pearson" in results


def test_input_without_binary_labels_gets_none(tiny_mt, stand_in_encoders, tmp_path):
    pd.read_csv(KLUE_TRAIN).head(6).to_csv(tmp_path / "train.csv", index=False)  # sentence1,sentence2,label
    aug = tmp_path / "aug.csv"
    _back_translate(tiny_mt, stand_in_encoders["bert"], tmp_path / "train.csv", aug, "--min_cosine", "-1")
    augmented = pd.read_csv(aug)
    assert "binary-label" not in augmented.columns
    assert list(augmented.original_id) == [f"train-{row}" for row in range(6)]
    assert augmented.label.tolist() == pd.read_csv(KLUE_TRAIN).label.head(6).tolist()
    assert set(augmented.source) == {"train-bt"}
    # It reads back as training data (the competition format with labels but no binary labels), next to its original.
    both = load_sts_datasets(train_file=[str(tmp_path / "train.csv"), str(aug)], validation_split_percentage=0)
    assert len(both["train"]) == 12 and set(both["train"]["binary_label"][:]) == {-1}


@pytest.fixture(scope="module")
def bad_inputs(tmp_path_factory, train_csv, tiny_mt):
    """Files for the refusals: a cross-encoder, a model whose tokenizer needs sentencepiece, a side file of other
    settings."""
    import shutil

    from hf_sts import StsCrossEncoderConfig, StsCrossEncoderModel

    root = tmp_path_factory.mktemp("augment-bad")
    backbone = {"model_type": "bert", "vocab_size": 99, "hidden_size": 16, "num_hidden_layers": 1}
    backbone |= {"num_attention_heads": 2, "intermediate_size": 16}
    StsCrossEncoderModel(StsCrossEncoderConfig(backbone_config=backbone)).save_pretrained(root / "cross")
    shutil.copytree(tiny_mt, root / "marian")
    (root / "marian" / "tokenizer_config.json").write_text(json.dumps({"tokenizer_class": "MarianTokenizer"}))
    (root / "a_folder.csv").mkdir()
    partial_path(root / "other.csv").write_text(json.dumps({"settings": {"forward_model": "x"}}) + "\n")
    return root


BT = ["augment", "back-translate", "--input", "{train}", "--output", "{out}"]
MT = ["--model", "{mt}", "--source_lang", "__ko__", "--pivot_lang", "__en__"]
FILTER = ["--filter_model", "{encoder}"]
REFUSALS = {
    "missing input": ([*BT[:3], "{root}/missing.csv", *BT[4:], *MT, *FILTER], r"missing\.csv: no such file"),
    "no translation source": ([*BT, *FILTER], r"give one source of back-translations: .*; got none\."),
    "two sources": (
        [*BT, *MT, "--translation_columns", "a", "b", *FILTER],
        r"got --model and --translation_columns\.$",
    ),
    "forward model alone": ([*BT, "--forward_model", "{mt}", *FILTER], r"--backward_model is missing"),
    "languages without --model": (
        [*BT, "--translation_columns", "a", "b", "--source_lang", "ko", *FILTER],
        r"--source_lang and --pivot_lang are the language codes of --model",
    ),
    "missing column": (
        [*BT, "--translation_columns", "sentence_1", "bt_2", *FILTER],
        r"train\.csv: no column 'bt_2' for --translation_columns \(columns found: \['binary-label', 'id', 'label'",
    ),
    "translation model not found": (
        [*BT, "--model", "{root}/no-such-model", *FILTER],
        r"no-such-model: cannot load it \(a local folder or a Hub id\)",
    ),
    "not a translation model": ([*BT, "--model", "{encoder}", *FILTER], r"a bert model, not a sequence-to-sequence"),
    "unknown language code": (
        [*BT, "--model", "{mt}", "--source_lang", "kor_Hang", *FILTER],
        r"tiny-mt\d*: its tokenizer has no language code 'kor_Hang'",
    ),
    "filter model not found": ([*BT, *MT, "--filter_model", "{root}/no-filter"], r"no-filter: cannot load it"),
    "cross-encoder filter": (
        [*BT, *MT, "--filter_model", "{root}/cross"],
        r"cross is an hf_sts cross-encoder: it scores pairs and has no sentence embeddings",
    ),
    "output is a folder": (
        [*BT[:5], "{root}/a_folder.csv", *MT, *FILTER],
        r"a_folder\.csv is a folder; --output names the file to write",
    ),
    "min_cosine above 1": ([*BT, *MT, *FILTER, "--min_cosine", "1.5"], r"--min_cosine 1\.5 is outside \[-1, 1\]"),
    "min_cosine nan": ([*BT, *MT, *FILTER, "--min_cosine", "nan"], r"--min_cosine nan is outside \[-1, 1\]"),
    "batch_size 0": (
        [*BT, *MT, *FILTER, "--batch_size", "0"],
        r"argument --batch_size/--batch-size: '0' is not a whole number >= 1",
    ),
    "side file of other settings": (
        [*BT[:5], "{root}/other.csv", *MT, *FILTER],
        r"other\.csv\.partial\.jsonl: translations cached by an interrupted run with other settings",
    ),
    "usage": ([*BT, *MT], r"augment back-translate: the following arguments are required: --filter_model"),
}


@pytest.mark.parametrize("case", list(REFUSALS))
def test_bad_input_is_one_line_and_writes_nothing(case, bad_inputs, train_csv, tiny_mt, stand_in_encoders, capsys):
    argv, message = REFUSALS[case]
    out = bad_inputs / (re.sub(r"\W+", "_", case) + ".csv")
    values = {"train": train_csv, "out": out, "mt": tiny_mt, "encoder": stand_in_encoders["bert"], "root": bad_inputs}
    line = refusal_line([argument.format(**values) for argument in argv], capsys)
    assert re.search(message, line), line
    assert not out.exists() and not partial_path(out).exists()


def test_counts_below_one_are_refused_as_a_library_call(train_csv, tmp_path):
    for option in ("batch_size", "max_length", "num_beams"):
        with pytest.raises(AugmentError, match=rf"--{option} must be an integer >= 1, got 0"):
            back_translate_file(train_csv, tmp_path / "out.csv", filter_model="unused", model="unused", **{option: 0})
    assert not (tmp_path / "out.csv").exists()


def test_a_tokenizer_that_needs_sentencepiece_is_one_line(bad_inputs, train_csv, stand_in_encoders, tmp_path, capsys):
    if importlib.util.find_spec("sentencepiece") is not None:
        pytest.skip("sentencepiece is installed: the Marian tokenizer's import succeeds")
    argv = [*BT, "--forward_model", "{root}/marian", "--backward_model", "{root}/marian", *FILTER]
    values = {"train": train_csv, "out": tmp_path / "o.csv", "encoder": stand_in_encoders["bert"], "root": bad_inputs}
    line = refusal_line([argument.format(**values) for argument in argv], capsys)
    assert re.search(r"marian: cannot load its tokenizer: MarianTokenizer requires the SentencePiece", line), line
    assert "pip install sentencepiece" in line


# The real filter: multilingual-e5-small ("query: " prompt). Measured cosines: close paraphrases (word order, spacing,
# particles changed) 0.975-0.990, unrelated sentences 0.79-0.81.
PARAPHRASES = [
    (
        "숙소 위치는 찾기 쉽고 일반적인 한국의 반지하 숙소입니다.",
        "숙소는 위치를 찾기 쉽고, 한국의 평범한 반지하 숙소입니다.",
        "내일 오후에 서울에 비가 많이 올 예정입니다.",
    ),
    (
        "위반행위 조사 등을 거부·방해·기피한 자는 500만원 이하 과태료 부과 대상이다.",
        "위반 행위에 대한 조사를 거부하거나 방해하거나 회피한 사람은 500만 원 이하의 과태료가 부과된다.",
        "고양이가 창가에서 햇볕을 쬐며 잠을 자고 있다.",
    ),
    (
        "회사가 보낸 메일은 이 지메일이 아니라 다른 지메일 계정으로 전달해줘.",
        "회사에서 보낸 이메일은 이 지메일 말고 다른 지메일 계정으로 전달해 줘.",
        "이 식당의 김치찌개는 정말 맛있어요.",
    ),
]


@pytest.mark.slow
@pytest.mark.pretrained
def test_the_e5_filter_keeps_a_paraphrase_and_drops_an_unrelated_sentence(e5_encoder, tmp_path, capsys):
    (a, a_close, a_far), (b, b_close, b_far), (c, c_close, _) = PARAPHRASES
    pairs = pd.DataFrame(
        {
            "sentence1": [a, a, a, b],
            "sentence2": [b, b, c, c],
            "label": [1.0, 1.5, 0.5, 2.0],
            "bt1": [a_close, a_close, a_far, b_close],  # kept / one sentence drifts / both drift / not translated
            "bt2": [b_close, b_far, c_close, ""],
        }
    )
    pairs.to_csv(tmp_path / "pairs.csv", index=False)
    output = tmp_path / "aug.csv"
    arguments = ["augment", "back-translate", "--input", str(tmp_path / "pairs.csv"), "--output", str(output)]
    arguments += ["--translation_columns", "bt1", "bt2", "--filter_model", str(e5_encoder), "--prompt", "query: "]
    hf_sts_cli(arguments)  # --min_cosine 0.9, the default
    augmented = pd.read_csv(output)
    assert list(augmented.original_id) == ["pairs-0"] and list(augmented.label) == [1.0]
    assert (augmented.sentence_1[0], augmented.sentence_2[0]) == (a_close, b_close)
    assert augmented.cosine_1[0] > 0.95 and augmented.cosine_2[0] > 0.95
    stdout = capsys.readouterr().out
    assert "4 pairs in" in stdout and "3 back-translated" in stdout
    assert "kept 1 of 3 (33.3%) with both cosines >= 0.9" in stdout, stdout

    hf_sts_cli([*arguments, "--min_cosine", "0.7"])  # every translated pair clears 0.7
    assert list(pd.read_csv(output).original_id) == ["pairs-0", "pairs-1", "pairs-2"]


@pytest.mark.slow
@pytest.mark.pretrained
def test_tiny_translation_model_with_the_e5_filter(tiny_mt, e5_encoder, train_csv, tmp_path):
    output = tmp_path / "aug.csv"
    _back_translate(tiny_mt, e5_encoder, train_csv, output, "--prompt", "query: ", "--min_cosine", "-1")
    augmented = pd.read_csv(output)
    assert len(augmented) == PAIRS and list(augmented.original_id) == list(pd.read_csv(train_csv).id)
    # A random model's "translations" are word salad from its vocabulary: at 0.9 the filter drops most of them.
    assert (np.minimum(augmented.cosine_1, augmented.cosine_2) >= 0.9).mean() < 0.5, augmented[
        ["cosine_1", "cosine_2"]
    ]
    assert read_sts_file(output).num_rows == PAIRS
