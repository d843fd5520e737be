"""Reading, checking and preparing sentence pairs: `readers` (every file format into one schema), `checks` (binary
threshold, data warnings), `pairs` (swapped pairs, undersampling, folds), `tokenization` (pairs into model inputs,
collators, length-sorted batches), `wordpiece` (a from-scratch tokenizer), `writers` (predictions and submissions)."""
