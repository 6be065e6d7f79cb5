"""Will it run? ``cfgen preflight`` before a deploy, ``cfgen doctor`` after.

- :mod:`.report`    one line per check (pass / warn / fail, with the fix), text or JSON
- :mod:`.offline`   the fit lint rules (cfgen.lint.rules.fit) on a template with parameter values
- :mod:`.online`    read-only AWS calls with the caller's credentials (offerings, quotas,
  routes, security group, service-linked role, image, Spot placement scores)
- :mod:`.catalogue` known AWS Batch status reasons -> cause, fix, source
- :mod:`.doctor`    a live stack's compute environments, queue, RUNNABLE and failed jobs
- :mod:`.cli`       argument parsing and exit codes (0 ok, 1 jobs cannot run, 2 usage)
"""
