"""Commands around a trained model: `export` (sequence-classification / sentence-transformers folders), `ensemble`
(mean, weighted, stacking), `describe` (data report), `leaderboard` (runs side by side), `demo` and `space` (a
Gradio page and its Hub Space), `augment` (back-translation with a cosine filter), `label` (silver labels from a
teacher, AugSBERT), `audit` (the label-noise audit of `describe --audit`)."""
