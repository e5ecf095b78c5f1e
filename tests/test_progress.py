"""Progress reporters: what each one shows, and where."""

from nnscratch.progress import ProgressBar


def test_progress_bar_prints_a_note_as_a_line_on_stdout_after_its_bar(capsys):
    bar = ProgressBar()
    bar.start_epoch(1, 1, 10)
    bar.end_batch(10)
    bar.end_epoch(1, 1, {"loss": 0.5}, 0.1, last=True)
    bar.note("early stopping: no improvement of val_loss for 5 epochs; restoring epoch 3")
    out = capsys.readouterr()
    # the bar (on stderr) is closed; the note is a line of its own on stdout, not in the bar
    assert out.out == "early stopping: no improvement of val_loss for 5 epochs; restoring epoch 3\n"
    assert "epoch 1/1" in out.err and "early stopping" not in out.err
