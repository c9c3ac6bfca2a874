"""Projections: attribution, fair reward shares, payouts and explanations, from the log alone.

Rules: ``projections/RULES.md`` (policy cocred-fair v1). Modules, from the log outwards:

- ``state.LogState`` / ``load_state(store)``: every campaign, replayed from stored
  events in order (``campaign.CampaignState``, facts in ``facts``);
- ``scoring.Scorer``: scores and credit under cocred-fair v1, exact and incremental;
  ``clusters.Reciprocity``: groups that vote mostly for each other;
- ``payouts.split_pool``: cap, minimum payout, largest remainder;
- ``explain.explain``: every cent of a payout traced to log positions;
- ``export``: the canonical export and its hash, ``recompute_settlement(store,
  campaign)`` (the auditor's recomputation), ``check_settlements(store)`` (the
  audit's payout step), ``prepare_settlement``/``settlement_envelope`` (a brand
  settles), ``render`` (csv, json, safe-csv, paypal-csv, canonical);
- ``projector.Projector``: the SQL read models (``tables``, ``rows``), tracked by
  log position, caught up incrementally, rebuildable, followed by a process;
  ``queries``: leaderboard, a contributor's attribution, lineage;
- ``baseline``: plain proportional shares and honest-work figures to compare with.

Errors: ``errors.ProjectionError`` and its subclasses, plus the domain's own types
for the refusals both sides make (re-exported by ``errors``).

The words of the event contract (event types, vote kinds, moderation outcomes,
the policy's name and default body) are imported from ``domain.vocabulary``,
not copied: a read model must understand exactly the words the domain accepts,
and a copy could drift unnoticed. That module imports nothing, so the
projections still depend on the contract only, never on the domain's rules.
"""
