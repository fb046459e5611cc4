"""Chinese NLU components for Rasa 3.6 (referenced by module path in config.yml).

Pipeline order matters:
  normalizer.ChineseNormalizer      first: aligned (same-length) normal form in TEXT,
                                    original in ``original_text``, side signals kept
  tokenizer.ChineseTokenizer        jieba + shop user dictionary, no whitespace tokens
  entities.SpacyRuleEntityExtractor order_id / phone_tail / amount / date by rules
  dense.USESentenceFeaturizer       512-d USE sentence feature for DIET/ResponseSelector
  anger.AngerDetector               last: top-level ``emotion``, original TEXT restored,
                                    one entity per span
"""
