"""A task program for testing `cluster.LocalCluster` without TensorFlow."""

import json
import os
import subprocess
import sys
import time


def idle(*, out_dir: str) -> None:
  """Records TF_CONFIG, pids (its own, a child's), interpreter; sleeps."""
  config = json.loads(os.environ['TF_CONFIG'])
  name = f'{config["task"]["type"]}-{config["task"]["index"]}'
  child = subprocess.Popen(
      [sys.executable, '-c', 'import time; time.sleep(600)']
  )
  path = os.path.join(out_dir, name + '.json')
  with open(path + '.tmp', 'w') as f:
    json.dump(
        dict(
            config,
            pid=os.getpid(),
            child=child.pid,
            python=sys.executable,
            pythonpath=os.environ.get('PYTHONPATH', ''),
        ),
        f,
    )
  os.replace(path + '.tmp', path)
  print(f'idle {name} ready', flush=True)
  time.sleep(600)
