"""Masked-language-model pretraining on the task's text (TAPT, Gururangan et al. 2020): `arguments`, `corpus`,
`builder`, `trainer` (`MlmTrainer`), `setup`, `card`."""
