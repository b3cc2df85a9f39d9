"""Settings and wiring: the environment (``PLANQA_*``) read once, and the answering service built from it.

Below the API and the evaluation, above the library: ``api/`` and ``eval/`` build what they serve or score
here, so both run the same service with the same settings.
"""
