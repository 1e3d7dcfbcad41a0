"""Learning collections (issue 20): decisions logged with their probabilities, a sealed
borrower-response simulator, models and a next-best-action policy, and the honest judging of a
policy from logs (:mod:`arrears.learn.ope`). Above the service and the generator: it runs the
real cycle; nothing below it imports it."""
