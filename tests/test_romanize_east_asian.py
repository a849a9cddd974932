"""Japanese, Chinese, Korean, Ukrainian and Russian romanization schemes.

Expected outputs are the standards' own examples where they have them (RR's 백마 baengma,
the Ukrainian resolution's Згорани Zghorany) and everyday readings otherwise.
"""

from __future__ import annotations

import pytest

from scriptbridge.views import api, default_scheme, resolve, romanize


@pytest.fixture(scope="module", autouse=True)
def _warm():
    # unidic-lite, jieba and pypinyin's phrase dictionary load once for the whole module
    for lang in ("ja", "zh", "ko", "uk", "ru"):
        romanize("", lang)
        resolve("romanize", lang).converter()


@pytest.fixture
def no_fallback(monkeypatch):
    """Fail if the API's guard had to fall back to uroman: the backends must not raise."""
    calls = []

    def record(backend, text, lang, err):
        calls.append((backend.name, text, err))
        return text

    monkeypatch.setattr(api, "_fallback", record)
    yield
    assert not calls, calls


# --- defaults ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("lang", "scheme", "backend"),
    [
        ("ja", "hepburn", "cutlet"),
        ("jpn_Jpan", "hepburn", "cutlet"),
        ("zh", "pinyin", "pypinyin"),
        ("zho_Hant", "pinyin", "pypinyin"),
        ("ko", "rr", "hangul-rr"),
        ("uk", "national", "ukrainian-national"),
        ("ru", "bgn", "russian-bgn"),
    ],
)
def test_defaults(lang, scheme, backend):
    assert default_scheme("romanize", lang) == scheme
    assert resolve("romanize", lang).name == backend
    assert resolve("romanize", lang, "colloquial").name == backend
    assert resolve("romanize", lang).extra is None  # the default is always permissive


# --- Japanese -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("今日は良い天気です", "kyou wa yoi tenki desu"),  # 今日 read in context, は as wa
        ("東京に行きました", "tokyo ni ikimashita"),  # lower-cased proper noun
        ("日本", "nihon"),  # not the formal "nippon"
        ("私は学生です。", "watashi wa gakusei desu."),
        ("新聞を読んだ。", "shinbun wo yonda."),
        ("こんにちは", "konnichiwa"),
        ("ウェブ", "webu"),  # cutlet alone gives "ebu"
        ("コンピューター", "konpyuutaa"),  # kana reading, not the English lemma
        ("ｶﾀｶﾅ", "katakana"),  # half-width kana
    ],
)
def test_japanese_hepburn(text, expected):
    assert romanize(text, "ja") == expected


def test_japanese_other_systems():
    assert romanize("私は新聞を読んだ", "ja", "kunrei") == "watasi wa sinbun o yonda"
    assert romanize("今日は", "ja", "nihon-shiki") == "kyou ha"


def test_japanese_passes_other_text_through():
    assert romanize("Pythonを使う😀", "ja") == "Python wo tsukau😀"
    assert romanize("ＣＯＶＩＤ－１９の影響", "ja") == "COVID-19 no eikyou"
    assert romanize("「こんにちは」と言った", "ja") == '"konnichiwa" to itta'
    assert romanize("한국어", "ja") == "한국어"


# --- Chinese ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("银行", "yinhang"),
        ("行走", "xingzou"),
        ("重要", "zhongyao"),
        ("重新", "chongxin"),
        ("长大", "zhangda"),
        ("长城", "changcheng"),
        ("还是", "haishi"),
        ("归还", "guihuan"),
        ("调查", "diaocha"),
        ("调皮", "tiaopi"),
        ("行长", "hangzhang"),
        ("首都", "shoudu"),
        ("他还没来", "ta hai meilai"),
        ("觉得", "juede"),
        ("睡觉", "shuijiao"),
        ("音乐", "yinyue"),
        ("快乐", "kuaile"),
        ("100人参加", "100 ren canjia"),  # jieba's words: not 人参 renshen
        ("西安", "xi'an"),  # apostrophe before a, o, e inside a word
        ("女儿", "nü'er"),
    ],
)
def test_chinese_polyphones(text, expected):
    assert romanize(text, "zh") == expected


def test_chinese_sentence_spacing_and_punctuation():
    assert romanize("我去银行取钱，然后走路回家。", "zh") == "wo qu yinhang qu qian, ranhou zoulu huijia."
    assert romanize("他说“你好”。", "zh") == 'ta shuo "nihao".'
    assert romanize('他说"你好"。', "zh") == 'ta shuo "nihao".'
    assert romanize("（注：这是测试）", "zh") == "(zhu: zheshi ceshi)"


def test_chinese_traditional_reads_like_simplified():
    assert romanize("銀行", "zh") == romanize("银行", "zh") == "yinhang"
    assert romanize("長城", "zh") == "changcheng"
    assert romanize("頭髮", "zh") == romanize("头发", "zh")


def test_chinese_tones():
    assert romanize("银行", "zh", "pinyin-tones") == "yínháng"
    assert romanize("重新开始", "zh", "pinyin-tones") == "chóngxīn kāishǐ"
    assert romanize("女儿", "zh", "pinyin-tones") == "nǚ'ér"


def test_chinese_passes_other_text_through():
    assert romanize("ＡＢＣ１２３的价格是100元", "zh") == "ABC123 de jiage shi 100 yuan"
    out = romanize("我用Python写代码😀", "zh")
    assert "Python" in out and "xie daima" in out and out.endswith("😀")


# --- Korean -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # plain syllables
        ("한국", "hanguk"),
        ("서울", "seoul"),
        ("부산", "busan"),
        ("김치", "gimchi"),
        ("라디오", "radio"),  # word-initial ㄹ is r
        ("울산", "ulsan"),  # final ㄹ is l
        ("압구정", "apgujeong"),  # tensing is not written
        # nasalization
        ("백마", "baengma"),
        ("국물", "gungmul"),
        ("종로", "jongno"),
        ("왕십리", "wangsimni"),
        ("독립", "dongnip"),
        ("강릉", "gangneung"),
        ("신문로", "sinmunno"),
        # liquidization
        ("신라", "silla"),
        ("별내", "byeollae"),
        ("대관령", "daegwallyeong"),
        # liaison of finals before a vowel, double finals splitting
        ("한국어", "hangugeo"),
        ("읽어", "ilgeo"),
        ("값이", "gapsi"),
        ("서울에", "seoure"),
        # palatalization
        ("해돋이", "haedoji"),
        ("같이", "gachi"),
        ("굳히다", "guchida"),
        # ㅎ: aspiration, and silent before a vowel
        ("좋고", "joko"),
        ("놓다", "nota"),
        ("많다", "manta"),
        ("좋아", "joa"),
        ("싫어", "sireo"),
        ("않는", "anneun"),
        # ㅎ after ㄱ ㅂ is written in nouns
        ("묵호", "mukho"),
        ("집현전", "jiphyeonjeon"),
        # double finals before a consonant and at the end
        ("닭", "dak"),
        ("여덟", "yeodeol"),
        ("없다", "eopda"),
        ("맑게", "malge"),
        ("설악", "seorak"),
        ("속리산", "songnisan"),
    ],
)
def test_korean_rr(text, expected):
    assert romanize(text, "ko") == expected


def test_korean_sentence_and_jamo():
    assert romanize("한국어를 공부합니다.", "ko") == "hangugeoreul gongbuhamnida."
    assert romanize("대한민국 만세!", "ko") == "daehanminguk manse!"
    assert romanize("ㅋㅋㅋ ㅠㅠ", "ko") == "kkk yuyu"  # compatibility jamo typed alone
    assert romanize("한국어😀 ABC１２３", "ko") == "hangugeo😀 ABC123"


# --- Ukrainian and Russian ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Згорани", "Zghorany"),
        ("Розгон", "Rozghon"),
        ("Ярошенко", "Yaroshenko"),
        ("Стрий", "Stryi"),
        ("Їжакевич", "Yizhakevych"),
        ("Юрій", "Yurii"),
        ("Знам'янка", "Znamianka"),
        ("Знам’янка", "Znamianka"),  # typographic apostrophe
        ("Феодосія", "Feodosiia"),
        ("Олексій", "Oleksii"),
        ("Гаєвич", "Haievych"),
        ("Єнакієве", "Yenakiieve"),
        ("Ґалаґан", "Galagan"),
        ("Щербухи", "Shcherbukhy"),
        ("Київ", "Kyiv"),
        ("Харків", "Kharkiv"),
        ("Біла Церква", "Bila Tserkva"),
        ("Тернопіль", "Ternopil"),
        ("Мар'їне", "Marine"),
    ],
)
def test_ukrainian_national(text, expected):
    assert romanize(text, "uk") == expected


def test_ukrainian_case_and_passthrough():
    assert romanize("ЩУКА Щука щука", "uk") == "SHCHUKA Shchuka shchuka"
    assert romanize("Україна — це держава, 2024 рік 😀 (Kyiv)", "uk") == (
        "Ukraina — tse derzhava, 2024 rik 😀 (Kyiv)"
    )
    # a quote mark after a word is not an in-word apostrophe
    assert romanize("'яблуко'", "uk") == "'yabluko'"


def test_russian_bgn():
    assert romanize("Ельцин Достоевский Фёдор жёлтый съезд Москва", "ru") == (
        "Yeltsin Dostoyevskiy Fyodor zholtyy syezd Moskva"
    )
    assert romanize("США, ЩИ", "ru") == "SSHA, SHCHI"


# --- robustness ---------------------------------------------------------------------------------

_ODD = [
    "",
    " ",
    "\n\n",
    "123 456",
    "😀👍🏽 ☺️",
    "ＡＢＣ　ｄｅｆ！？",
    "ﾃｽﾄ ｶﾀｶﾅ",
    "abc def",
    "\u200b\u200c\u200d\ufeff",
    "々〆〇ー",
    "ㄅㄆㄇ",
    "ℌ ① ㈱",
    "a\tb",
    "?!.,;:",
    "مرحبا עברית Ελληνικά",
    "日本語 中文 한국어 Українська",
    "x" * 2000,
    "漢" * 500,
    "line one\nline two\n",
]


@pytest.mark.parametrize("scheme", ["hepburn", "kunrei", "nihon-shiki"])
@pytest.mark.parametrize("text", _ODD)
def test_japanese_never_raises(no_fallback, scheme, text):
    out = romanize(text, "ja", scheme)
    assert isinstance(out, str)
    assert out.count("\n") == text.count("\n")


@pytest.mark.parametrize(
    ("lang", "scheme"),
    [("zh", "pinyin"), ("zh", "pinyin-tones"), ("ko", "rr"), ("uk", "national"), ("ru", "bgn")],
)
@pytest.mark.parametrize("text", _ODD)
def test_never_raises(no_fallback, lang, scheme, text):
    out = romanize(text, lang, scheme)
    assert isinstance(out, str)
    assert out.count("\n") == text.count("\n")
    if not text.strip():
        assert out == text


def test_batches_keep_order_and_length(no_fallback):
    texts = ["银行", "", "长城", "abc", "银行"]
    assert romanize(texts, "zh") == ["yinhang", "", "changcheng", "abc", "yinhang"]
    texts = ["백마", "종로", "", "백마"]
    assert romanize(texts, "ko") == ["baengma", "jongno", "", "baengma"]


def test_chinese_without_optional_packages(monkeypatch):
    """Without jieba and OpenCC, pypinyin's own phrase segmentation still reads polyphones."""
    import sys

    from scriptbridge.views.backends import east_asian

    monkeypatch.setitem(sys.modules, "jieba", None)  # makes `import jieba` raise ImportError
    monkeypatch.setitem(sys.modules, "opencc", None)
    east_asian._segmenter.cache_clear()
    east_asian._t2s.cache_clear()
    try:
        convert = east_asian._pinyin_loader(tones=False)()
        assert convert(["银行", "长城", "重新", "我用Python写代码。"], "zh") == [
            "yinhang",
            "changcheng",
            "chongxin",
            "wo yong Python xie dai ma.",  # coarser words
        ]
    finally:
        east_asian._segmenter.cache_clear()
        east_asian._t2s.cache_clear()
