"""Timers in tests written in the language: ``{:advance-ms N}`` steps move the harness's fake clock."""

from __future__ import annotations

from pathlib import Path

from tests.scripttest.test_cli import cli, write

BUFFER = """
(defn buffer [state chunk meta]
  (if (= (:kind meta) "timer")
    {:state (assoc state :buf []) :output {:flushed (:buf state) :at (:time chunk) :after (:seq meta)}}
    {:state (update state :buf conj (:v chunk)) :timers {:flush 1000}}))

(mcp-stream "mock:x" buffer {:buf []} {:stream-id "b"})
"""

TESTS = """
(deftest "flushes a quiet second after the last chunk, exactly"
  {:steps [{:chunk {:v 1}} {:advance-ms 500} {:chunk {:v 2}} {:advance-ms 999} {:advance-ms 1} {:chunk {:v 3}}]
   :end-input false
   :expect {:state {:buf [3]} :outputs [{:flushed [1 2] :at 1500 :after 2}]
            :stats {:processed 3 :timers 1}}})

(deftest "a paused stream holds its timer until resumed"
  {:steps [{:chunk {:v 1}} {:directive :pause} {:advance-ms 5000} {:directive :resume}]
   :end-input false
   :expect {:state {:buf []} :outputs [{:flushed [1] :at 1000 :after 1}]}})

(deftest "the input ending first drops the timer"
  {:chunks [{:v 1}]
   :expect {:status :completed :outputs [] :stats {:timers 0}}})

(defproperty "every chunk is flushed once, in order, whatever the timing"
  {:chunk {:v :int}
   :directives false
   :end-input false
   :advance-ms 1500
   :check (fn [{:keys [state outputs chunks]}]
            (= (vec (concat (mapcat :flushed outputs) (:buf state)))
               (vec (keep :v chunks))))})
"""


def test_timer_steps_run_on_the_fake_clock(tmp_path: Path) -> None:
    write(tmp_path, "buffer.rtfs", BUFFER)
    write(tmp_path, "buffer_test.rtfs", TESTS)
    code, out, err = cli(str(tmp_path / "buffer_test.rtfs"))
    assert (code, err) == (0, ""), out
    assert out.count("ok ") == 4


def test_a_bad_advance_step_is_located(tmp_path: Path) -> None:
    write(tmp_path, "buffer.rtfs", BUFFER)
    write(tmp_path, "buffer_test.rtfs", '(deftest "t" {:steps [{:advance-ms -5}]})\n')
    code, _, err = cli(str(tmp_path / "buffer_test.rtfs"))
    assert code == 2
    assert "buffer_test.rtfs:1:1" in err
    assert ":advance-ms must be a number of milliseconds >= 0, got -5" in err
