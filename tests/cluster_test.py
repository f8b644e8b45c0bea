"""Migrated canned estimators on a loopback TF cluster, with tasks killed.

`LocalClusterTest` checks the harness with a TF-free task program.
`CannedClusterTest` is the TF1 story at cluster scale: a v1
DNNLinearCombinedClassifier trains on chief + worker + 2 ps + evaluator (its
71 MB embedding split over both ps by v1's default partitioner); the toolkit
converts its sharded checkpoint; the translated v2 estimator resumes on the
same cluster shape while the worker, the chief and a ps task are SIGKILLed
and restarted, and reaches max_steps with the accuracy of an uninterrupted
single-process run from the same checkpoint (within `_ACCURACY_TOLERANCE`).
Waits are on conditions (progress lines, checkpoint steps), each bounded by
`_WAIT_SECS`; figures are in docs/cluster.md. The v2 run happens once, in
`setUpClass`; a test per phase (resume, each kill, the end) checks what it
saw, so one failure does not hide the others.
"""

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import traceback

from absl.testing import absltest
from absl.testing import parameterized
import tensorflow as tf

from estimator_migrate.checkpoints import convert
from estimator_migrate.cluster import loopback
from estimator_migrate.cluster import trainers
from estimator_migrate.export import modern
from estimator_migrate.guide import data
from tests import testing

_IDLE = 'tests.cluster_tasks:idle'
_V1_STEPS = 40
_MAX_STEPS = 400
_SAVE_STEPS = 50
_STEP_BUDGET = 40  # steps allowed past the step a phase starts from
_WAIT_SECS = 240  # bound on each wait; the machine may be loaded
# Async training with restarts vs one uninterrupted process: measured
# differences are in docs/cluster.md; accuracy on 360 test images.
_ACCURACY_TOLERANCE = 0.06
_EMBEDDING = (
    'dnn/input_from_feature_columns/input_layer/code_embedding/'
    'embedding_weights'
)


def _gone(pid: int) -> bool:
  """The process no longer exists, or is a zombie awaiting its reaper."""
  try:
    with open(f'/proc/{pid}/stat') as f:
      return f.read().rsplit(')', 1)[1].split()[0] == 'Z'
  except FileNotFoundError:
    return True


class LocalClusterTest(parameterized.TestCase):
  """The harness itself: TF_CONFIG, kill/restart, cleanup, bounds, errors."""

  def _idle_cluster(self, **kwargs) -> tuple[loopback.LocalCluster, str]:
    out = self.create_tempdir().full_path
    c = loopback.LocalCluster(_IDLE, dict(out_dir=out), workdir=out, **kwargs)
    self.addCleanup(c.stop)
    return c, out

  def _records(self, c: loopback.LocalCluster, out: str) -> dict:
    def read_all():
      names = [f'{r}-{i}.json' for r, i in c.tasks]
      if all(os.path.exists(os.path.join(out, n)) for n in names):
        return {n[:-5]: json.load(open(os.path.join(out, n))) for n in names}
      return None

    return c.wait_for(
        read_all, timeout_secs=_WAIT_SECS, what='idle tasks to report'
    )

  def test_tf_config_layout(self):
    c, out = self._idle_cluster(workers=2, ps=2, evaluator=True)
    c.start()
    records = self._records(c, out)
    spec = records['chief-0']['cluster']
    self.assertEqual(sorted(spec), ['chief', 'ps', 'worker'])
    self.assertLen(spec['chief'], 1)
    self.assertLen(spec['worker'], 2)
    self.assertLen(spec['ps'], 2)
    addresses = [a for tasks in spec.values() for a in tasks]
    self.assertLen(set(addresses), 5)
    for address in addresses:
      self.assertRegex(address, r'^127\.0\.0\.1:\d+$')
    for name, record in records.items():
      role, index = name.split('-')
      self.assertEqual(record['cluster'], spec)  # evaluator: not in it
      self.assertEqual(record['task'], {'type': role, 'index': int(index)})

  def test_kill_and_restart_keep_the_address(self):
    c, out = self._idle_cluster(workers=1, ps=1)
    c.start()
    before = self._records(c, out)['worker-0']
    os.remove(os.path.join(out, 'worker-0.json'))
    c.kill('worker', 0)
    self.assertEqual(c.returncode('worker', 0), -signal.SIGKILL)
    c.wait_for(
        lambda: _gone(before['child']), timeout_secs=30, what='the child'
    )
    self.assertIsNone(c.returncode('chief'))  # the others run on
    c.restart('worker', 0)
    after = self._records(c, out)['worker-0']
    self.assertNotEqual(after['pid'], before['pid'])
    self.assertEqual(after['cluster'], before['cluster'])
    self.assertIn('=== start 2 of worker-0', c.log('worker', 0))
    self.assertIn('idle worker-0 ready', c.log('worker', 0, start=2))
    self.assertNotIn('=== start 2', c.log('worker', 0, start=1))
    self.assertEqual(c.log('worker', 0, start=3), '')

  def test_another_interpreter_gets_only_the_package_root(self):
    python = modern.find_python()  # the modern environment's
    c, out = self._idle_cluster(workers=0, python=python)
    c.start()
    record = self._records(c, out)['chief-0']
    self.assertEqual(record['python'], python)
    # Not this process's sys.path: its TF 2.15 would shadow the other's.
    root = os.path.dirname(
        os.path.dirname(os.path.dirname(os.path.abspath(loopback.__file__)))
    )
    self.assertEqual(record['pythonpath'], root)
    first = out
    c, out = self._idle_cluster(workers=0, pythonpath=[root, first])
    c.start()
    self.assertEqual(
        self._records(c, out)['chief-0']['pythonpath'], f'{root}:{first}'
    )

  def test_stop_kills_every_process_group(self):
    c, out = self._idle_cluster(workers=1, ps=1, evaluator=True)
    c.start()
    records = self._records(c, out)
    pids = [r[k] for r in records.values() for k in ('pid', 'child')]
    c.stop()
    c.stop()  # idempotent
    c.wait_for(
        lambda: all(_gone(p) for p in pids), timeout_secs=30, what='no pids'
    )

  def test_with_block_stops_tasks_when_the_body_fails(self):
    out = self.create_tempdir().full_path
    with self.assertRaises(ZeroDivisionError):
      with loopback.LocalCluster(
          _IDLE, dict(out_dir=out), workdir=out, workers=1
      ) as c:
        c.start()
        pids = [r['pid'] for r in self._records(c, out).values()]
        _ = 1 / 0
    c.wait_for(
        lambda: all(_gone(p) for p in pids), timeout_secs=30, what='no pids'
    )

  def test_tasks_die_with_the_process_that_started_them(self):
    out = self.create_tempdir().full_path
    script = (
        'import sys, time\n'
        'from estimator_migrate.cluster import loopback\n'
        f'c = loopback.LocalCluster({_IDLE!r}, dict(out_dir={out!r}),'
        f' workdir={out!r}, workers=1)\n'
        'c.start()\n'
        'time.sleep(600)\n'
    )
    owner = subprocess.Popen(
        [sys.executable, '-c', script],
        env=dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path)),
    )
    self.addCleanup(owner.kill)
    names = ('chief-0.json', 'worker-0.json')

    def pids():
      if not all(os.path.exists(os.path.join(out, n)) for n in names):
        return None
      return [json.load(open(os.path.join(out, n)))['pid'] for n in names]

    found = testing.wait_until(
        pids, timeout=_WAIT_SECS, what='the idle tasks to report', interval=0.2
    )
    owner.kill()  # SIGKILL: no atexit, no __exit__
    owner.wait()
    testing.wait_until(
        lambda: all(_gone(p) for p in found),
        timeout=30,
        what=f'the tasks {found} to end with their owner',
        interval=0.2,
    )

  def test_a_task_past_its_deadline_is_ended(self):
    c, out = self._idle_cluster(workers=0, task_timeout_secs=2)
    c.start()
    code = c.wait_for(
        lambda: c.returncode('chief'), timeout_secs=60, what='the alarm'
    )
    self.assertEqual(code, -signal.SIGALRM)

  def test_wait_for_is_bounded_and_shows_the_logs(self):
    c, _ = self._idle_cluster(workers=0)
    c.start()
    with self.assertRaisesRegex(
        loopback.ClusterError, r'(?s)timed out.*--- chief:0'
    ):
      c.wait_for(lambda: False, timeout_secs=0.5, what='nothing')

  @parameterized.named_parameters(
      ('no_function', dict(target='tests.cluster_tasks'), 'module:function'),
      ('negative_workers', dict(workers=-1), 'workers=-1'),
      ('not_json', dict(kwargs=dict(f=object())), 'JSON'),
      ('no_python', dict(python='/nonexistent/python'), 'python=.*executable'),
  )
  def test_bad_arguments_are_named(self, overrides, message):
    args = dict(target=_IDLE, kwargs={}, workers=1)
    args.update(overrides)
    with self.assertRaisesRegex(loopback.ClusterError, message):
      loopback.LocalCluster(
          args.pop('target'),
          args.pop('kwargs'),
          workdir=self.create_tempdir().full_path,
          **args,
      )

  def test_unknown_task_is_named_with_the_choices(self):
    c, _ = self._idle_cluster(workers=1)
    with self.assertRaisesRegex(loopback.ClusterError, 'ps:0.*chief:0'):
      c.kill('ps', 0)
    c.start([])  # nothing
    self.assertEqual(c.pids(), [])
    with self.assertRaisesRegex(loopback.ClusterError, 'not running'):
      c.kill('worker', 0)


class _FaultedRun:
  """The translated v2 estimator on a cluster whose tasks are killed.

  Each phase (a method below) drives the cluster and returns what it saw;
  the test methods assert on that, so one wrong figure does not hide the
  others. A step limit file holds every task; it is raised only once the
  awaited task is ready, so a faster task cannot spend the budget first.
  """

  def __init__(
      self,
      c: loopback.LocalCluster,
      model_dir: str,
      limit_file: str,
      v1_step: int,
  ):
    self.c = c
    self.model_dir = model_dir
    self.limit_file = limit_file
    self.v1_step = v1_step
    self.checkpoints = []  # (time, latest checkpoint step), sampled in waits
    self.saved = None  # the chief's restore after its kill

  def lines(self, role, start=None, session=None, sessions=False):
    """(global step, time) of `role`'s progress (or session) lines."""
    log = self.c.log(role, start=start)
    self.checkpoints.append(
        (time.time(), trainers.latest_checkpoint_step(self.model_dir))
    )
    return [
        (step, t)
        for _, n, step, t in trainers.progress(log, sessions=sessions)
        if session is None or n == session
    ]

  def resume(self, role, start=None, session=None):
    """Waits for a new session of `role`, lets it train, returns its steps."""
    self.wait(
        lambda: self.lines(role, start, session, sessions=True),
        f'a session of {role} (start {start}, session {session})',
    )
    self.release()
    return self.wait(
        lambda: self.lines(role, start, session),
        f'{role} to train (start {start}, session {session})',
    )

  def release(self):
    """Lets every task train _STEP_BUDGET steps past the last step seen."""
    current = max(
        s
        for r in ('chief', 'worker')
        for s, _ in self.lines(r) + self.lines(r, sessions=True)
    )
    trainers.set_step_limit(self.limit_file, current + _STEP_BUDGET)

  def wait(self, condition, what):
    return self.c.wait_for(
        condition,
        timeout_secs=_WAIT_SECS,
        what=what,
        fail_if_exited=[t for t in self.c.tasks if t[0] != 'evaluator'],
    )

  def latest(self) -> int | None:
    return trainers.latest_checkpoint_step(self.model_dir)

  def checkpoint_after(self, step):
    """Lets training run until the chief saves a checkpoint past `step`."""
    trainers.set_step_limit(self.limit_file, step + _SAVE_STEPS + _STEP_BUDGET)
    return self.wait(
        lambda: (self.latest() or 0) > step and self.latest(),
        f'a checkpoint after step {step}',
    )

  def start(self) -> dict:
    """The chief resumes from the converted checkpoint; the worker joins."""
    c = self.c
    c.start([t for t in c.tasks if t[0] != 'worker'])
    first = self.resume('chief')
    seen = dict(
        first_step=first[0][0],
        restored=trainers.restores(c.log('chief'))[0],
    )
    c.start([('worker', 0)])
    self.resume('worker')
    return seen

  def worker(self) -> dict:
    """The worker: the chief trains on; the new worker joins."""
    killed = self.c.kill('worker', 0)
    self.c.restart('worker', 0)
    first = self.resume('worker', start=2)
    return dict(first=first, recovery=first[0][1] - killed)

  def chief(self) -> dict:
    """The chief, after a checkpoint: it restores the newest one."""
    c = self.c
    self.checkpoint_after(self.v1_step)
    killed = c.kill('chief')
    saved = self.latest()
    c.restart('chief')
    first = self.resume('chief', start=2)
    self.saved = saved
    return dict(
        saved=saved,
        first_step=first[0][0],
        restored=trainers.restores(c.log('chief', start=2))[0],
        recovery=first[0][1] - killed,
    )

  def ps(self) -> dict:
    """A ps task (it holds global_step) is killed and restarted.

    The chief recreates its session and restores every variable from the
    newest checkpoint.
    """
    c = self.c
    chief = self.saved
    saved = self.checkpoint_after(chief)
    killed = c.kill('ps', 0)
    c.restart('ps', 0)
    # A task learns of the lost ps only when it next runs a step; both may
    # already be held at the step limit (the worker can reach it while the
    # chief restores), and then neither would ever notice. No step can
    # succeed before the chief restores (global_step lived on ps 0), so
    # releasing them spends none of the budget.
    self.release()
    first = self.resume('chief', start=2, session=2)
    # global_step lived on the killed ps: its value now comes from the
    # restore (the worker may have stepped on before the chief reports).
    after = [
        s
        for role, start, session in (('chief', 2, 2), ('worker', 2, 2))
        for s, _ in self.lines(role, start, session, sessions=True)
    ]
    return dict(
        chief=chief,
        saved=saved,
        after=after,
        restored=trainers.restores(c.log('chief', start=2)),
        recovery=first[0][1] - killed,
    )

  def end(self) -> dict:
    """To max_steps; the evaluator evaluates the last checkpoint."""
    c = self.c
    trainers.set_step_limit(self.limit_file, None)
    c.wait_for(
        lambda: c.exited('chief') and c.exited('evaluator'),
        timeout_secs=_WAIT_SECS,
        what='the chief and evaluator to finish',
        fail_if_exited=c.tasks,
    )
    return dict(final=trainers.evaluations(c.log('evaluator'))[-1])

  def evaluate_last(self, data_dir: str, evaluated: int) -> dict:
    """After the cluster stopped: the steps seen; `evaluated`, evaluated.

    The evaluator stops at the first checkpoint at or past max_steps; the
    chief may save one more (the worker's step after max_steps) once the
    evaluator has left, so the checkpoint evaluated again is the
    evaluator's, named by its step, not the latest one.
    """
    return dict(
        steps=[s for _, s in self.checkpoints if s is not None],
        last=self.latest(),
        restored=trainers.make_estimator(self.model_dir, 'v2').evaluate(
            trainers.input_fns(data_dir)[1],
            checkpoint_path=os.path.join(
                self.model_dir, f'model.ckpt-{evaluated}'
            ),
        ),
    )


# Each phase, with the phases it needs to have completed.
_PHASES = (
    ('start', ()),
    ('worker', ('start',)),
    ('chief', ('start',)),
    ('ps', ('start', 'chief')),
    ('end', ('start',)),
)


def _attempt(function, *args) -> dict | str:
  """`function(*args)`, or the traceback of what it raised."""
  try:
    return function(*args)
  except Exception:  # pylint: disable=broad-except
    return traceback.format_exc()


class CannedClusterTest(tf.test.TestCase):
  """v1 on the cluster -> converted -> v2 on the cluster, with faults.

  The v2 run, with its three kills, runs once (in `setUpClass`): each fault
  starts a task's Python and TensorFlow again, as a fresh cluster per fault
  would have to for every task; the tests below check each phase apart.
  """

  @classmethod
  def setUpClass(cls):
    super().setUpClass()
    cls.root = tempfile.mkdtemp(dir=absltest.TEST_TMPDIR.value)
    cls.data_dir = testing.tfds_dir()
    data.info(data_dir=cls.data_dir)  # prepared once, not by 5 racing tasks
    cls.v1_dir = os.path.join(cls.root, 'v1')
    cls.v1_run = trainers.train_on_cluster(
        model_dir=cls.v1_dir,
        version='v1',
        max_steps=_V1_STEPS,
        workdir=os.path.join(cls.root, 'v1_run'),
        timeout_secs=_WAIT_SECS,
        data_dir=cls.data_dir,
        save_checkpoints_steps=_V1_STEPS,
    )
    # Asynchronous: the worker may step while the chief stops at max_steps,
    # so v1's final checkpoint is at max_steps or one step per worker past.
    cls.v1_step = trainers.latest_checkpoint_step(cls.v1_dir)
    cls.converted = os.path.join(
        cls.root, 'converted', f'model.ckpt-{cls.v1_step}'
    )
    cls.conversion = convert.convert_optimizer_checkpoint(
        cls.v1_dir, cls.converted
    )
    cls.seconds = {}
    began = time.monotonic()
    cls.reference = _attempt(cls._train_reference)
    cls.seconds['reference'] = time.monotonic() - began
    cls.phases = cls._run_v2_with_faults()
    cls._print_figures()

  @classmethod
  def _copy_converted(cls, name: str) -> str:
    return trainers.copy_checkpoint(cls.converted, os.path.join(cls.root, name))

  @classmethod
  def _train_reference(cls) -> dict:
    """One uninterrupted process from the same converted checkpoint."""
    estimator = trainers.make_estimator(cls._copy_converted('reference'), 'v2')
    train_fn, eval_fn = trainers.input_fns(cls.data_dir)
    estimator.train(train_fn, max_steps=_MAX_STEPS)
    return estimator.evaluate(eval_fn)

  @classmethod
  def _run_v2_with_faults(cls) -> dict[str, dict | str]:
    """Each phase's observations, or why it did not complete."""
    began = time.monotonic()
    cls.v2_dir = model_dir = cls._copy_converted('v2')
    limit_file = os.path.join(cls.root, 'step_limit')
    # Held at the converted step until the chief is ready.
    trainers.set_step_limit(limit_file, cls.v1_step)
    phases = {}
    with loopback.LocalCluster(
        trainers.TRAINER,
        dict(
            model_dir=model_dir,
            version='v2',
            max_steps=_MAX_STEPS,
            data_dir=cls.data_dir,
            save_checkpoints_steps=_SAVE_STEPS,
            eval_throttle_secs=10,
            step_limit_file=limit_file,
        ),
        workdir=os.path.join(cls.root, 'v2_run'),
        workers=1,
        ps=2,
        evaluator=True,
    ) as c:
      run = _FaultedRun(c, model_dir, limit_file, cls.v1_step)
      for name, needs in _PHASES:
        missing = [n for n in needs if not isinstance(phases.get(n), dict)]
        if missing:
          phases[name] = f'not run: the {missing} phase(s) did not complete'
          continue
        if name == 'end':
          cls.seconds['faults'] = time.monotonic() - began
        phase_began = time.monotonic()
        phases[name] = _attempt(getattr(run, name))
        cls.seconds[name] = time.monotonic() - phase_began
    if isinstance(phases['end'], dict):
      after = _attempt(
          run.evaluate_last, cls.data_dir, phases['end']['final'][0]
      )
      phases['end'] = (
          dict(phases['end'], **after) if isinstance(after, dict) else after
      )
    cls.seconds['v2'] = time.monotonic() - began
    return phases

  @classmethod
  def _print_figures(cls) -> None:
    recovery = {
        name: round(seen['recovery'], 1)
        for name, seen in cls.phases.items()
        if isinstance(seen, dict) and 'recovery' in seen
    }
    end = cls.phases['end']
    accuracy = ''
    if (
        isinstance(end, dict)
        and 'restored' in end
        and isinstance(cls.reference, dict)
    ):
      restored, reference = end['restored'], cls.reference
      accuracy = (
          f'; accuracy {restored["accuracy"]:.4f} vs uninterrupted'
          f' {reference["accuracy"]:.4f}; loss'
          f' {restored["average_loss"]:.4f} vs'
          f' {reference["average_loss"]:.4f}'
      )
    seconds = {k: round(v, 1) for k, v in cls.seconds.items()}
    print(
        f'cluster figures: v1 run {cls.v1_run.seconds:.1f} s; conversion'
        f' {cls.conversion.seconds:.2f} s; seconds {json.dumps(seconds)};'
        f' recovery (kill to progress) {json.dumps(recovery)}{accuracy}'
    )

  def v2_prefix(self, step: int) -> str:
    return os.path.join(self.v2_dir, f'model.ckpt-{step}')

  def phase(self, name: str) -> dict:
    """What phase `name` saw; fails the test if it did not complete."""
    seen = self.phases[name]
    if not isinstance(seen, dict):
      self.fail(f'the {name} phase did not complete:\n{seen}')
    return seen

  def test_v1_partitions_the_table_and_the_converter_joins_it(self):
    self.assertBetween(self.v1_step, _V1_STEPS, _V1_STEPS + 1)  # 1 worker
    parts = [
        v for v in self.v1_run.placement if v['name'].startswith(_EMBEDDING)
    ]
    tables = [v for v in parts if not v['name'].endswith('Adagrad')]
    self.assertLen(tables, 2)
    self.assertEqual(
        {v['device'] for v in tables}, {'/job:ps/task:0', '/job:ps/task:1'}
    )
    data_files = tf.io.gfile.glob(
        os.path.join(self.v1_dir, f'model.ckpt-{self.v1_step}.data-*')
    )
    self.assertLen(data_files, 2)  # one per ps task
    v1 = tf.train.load_checkpoint(
        os.path.join(self.v1_dir, f'model.ckpt-{self.v1_step}')
    )
    v2 = tf.train.load_checkpoint(self.converted)
    for v1_name, v2_name in (
        (_EMBEDDING, _EMBEDDING),
        (
            f'{_EMBEDDING}/Adagrad',
            f'training/Adagrad/{_EMBEDDING}/accumulator',
        ),
    ):
      # v1's saver stores a partitioned variable as one full-shape tensor.
      self.assertAllEqual(v1.get_tensor(v1_name), v2.get_tensor(v2_name))
    self.assertEqual(
        v2.get_variable_to_shape_map()[_EMBEDDING],
        [trainers.VOCABULARY, trainers.EMBEDDING_DIM],
    )
    self.assertEqual(self.v1_run.evaluations[-1][0], self.v1_step)

  def test_v2_resumes_from_the_converted_checkpoint(self):
    seen = self.phase('start')
    self.assertGreaterEqual(seen['first_step'], self.v1_step)
    self.assertEqual(
        seen['restored'],
        self.v2_prefix(self.v1_step),
    )

  def test_v2_survives_a_worker_kill(self):
    # The restarted worker trained (the phase waited for its progress).
    self.assertNotEmpty(self.phase('worker')['first'])

  def test_v2_survives_a_chief_kill_restoring_the_newest_checkpoint(self):
    seen = self.phase('chief')
    self.assertEqual(
        seen['restored'],
        self.v2_prefix(seen['saved']),
    )
    self.assertGreaterEqual(seen['first_step'], seen['saved'])

  def test_v2_survives_a_ps_kill_restoring_every_variable(self):
    seen = self.phase('ps')
    saved = seen['saved']
    self.assertBetween(min(seen['after']), saved, saved + _STEP_BUDGET)
    # The first restore is the chief's start; then the newest checkpoint,
    # once per session attempt: an attempt made while the new ps is still
    # starting fails part-way, and MonitoredTrainingSession tries again.
    restored = seen['restored']
    self.assertEqual(
        restored[:2],
        [self.v2_prefix(s) for s in (seen['chief'], saved)],
    )
    self.assertEqual(set(restored[1:]), {restored[1]})

  def test_v2_reaches_max_steps_as_accurate_as_an_uninterrupted_run(self):
    end = self.phase('end')
    seen = f'the end phase saw {end}'
    self.assertIsInstance(self.reference, dict, self.reference)
    self.assertEqual(end['steps'], sorted(end['steps']), seen)  # never back
    # Asynchronous: the worker's last step may land after the chief's, and
    # the evaluator may leave at a checkpoint saved before that step.
    final, restored = end['final'], end['restored']
    self.assertBetween(end['last'], _MAX_STEPS, _MAX_STEPS + 1)
    self.assertBetween(final[0], _MAX_STEPS, end['last'])
    self.assertAllClose(
        [final[1]['accuracy'], final[1]['average_loss']],
        [restored['accuracy'], restored['average_loss']],
        rtol=1e-5,
        msg=seen,
    )
    self.assertAllClose(
        restored['accuracy'],
        self.reference['accuracy'],
        atol=_ACCURACY_TOLERANCE,
        msg=f'{seen}; uninterrupted: {self.reference}',
    )


if __name__ == '__main__':
  absltest.main()
