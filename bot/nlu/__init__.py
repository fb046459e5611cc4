"""Chinese NLU components for Rasa 3.6 (referenced by module path in config.yml).

Pipeline order matters:
  normalizer.ChineseNormalizer      first: aligned (same-length) normal form in TEXT,
                                    original in ``original_text``, side signals kept
  tokenizer.ChineseTokenizer        jieba + shop user dictionary, no whitespace tokens
  entities.SpacyRuleEntityExtractor order_id / phone_tail / amount / date by rules
  dense.USESentenceFeaturizer       512-d USE sentence feature for DIET/ResponseSelector
  fallback.SiblingAwareFallbackClassifier  nlu_fallback, sibling intents counted as one
  human_request.HumanRequestDetector  ``human_request``; a request for a person becomes
                                    human_agent whatever the classifier drew
  oos_gate.OutOfScopeGate           ``scope``; unlike the in-scope data -> out_of_scope
  speech_act.SpeechActTagger        ``speech_act``: "ask" (answer) or "act" (confirm, then do)
  anger.AngerDetector               last: top-level ``emotion``, original TEXT restored,
                                    one entity per span
"""
