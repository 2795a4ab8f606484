"""Kernel features jupyter_kernel_test does not cover: interrupts (message and
SIGINT), input_request, comms, goroutine panics, shutdown on control."""

import os
import signal
import time

import pytest
from jupyter_client.manager import start_new_kernel

TIMEOUT = 60


@pytest.fixture()
def kernel():
    km, kc = start_new_kernel(kernel_name="lightos")
    yield km, kc
    kc.stop_channels()
    if km.is_alive():
        km.shutdown_kernel(now=True)


def run(kc, code, **kw):
    """Execute code; return (reply content, iopub messages between busy and idle)."""
    msgs = []
    reply = kc.execute_interactive(code, output_hook=msgs.append, timeout=TIMEOUT, **kw)
    return reply["content"], msgs


def outputs(msgs, msg_type):
    return [m["content"] for m in msgs if m["msg_type"] == msg_type]


def wait_running(kc, msg_id):
    """Wait until the kernel has started the request (its execute_input)."""
    while True:
        m = kc.get_iopub_msg(timeout=TIMEOUT)
        if m["msg_type"] == "execute_input" and m["parent_header"].get("msg_id") == msg_id:
            time.sleep(0.3)
            return


def test_interrupt_message_stops_a_loop(kernel):
    km, kc = kernel
    msg_id = kc.execute("n := 0\nfor { n++ }")
    wait_running(kc, msg_id)
    km.interrupt_kernel()  # interrupt_mode "message": interrupt_request on control
    reply = kc.get_shell_msg(timeout=TIMEOUT)
    assert reply["parent_header"]["msg_id"] == msg_id
    assert reply["content"]["status"] == "error"
    assert reply["content"]["ename"] == "Interrupted"
    content, _ = run(kc, "1 + 1")
    assert content["status"] == "ok"


def test_sigint_stops_an_engine_style_wait(kernel):
    km, kc = kernel
    code = 'import "time"\nselect {\ncase <-cell.Context().Done():\n\tpanic("stopped by context")\ncase <-time.After(time.Minute):\n}'
    msg_id = kc.execute(code)
    wait_running(kc, msg_id)
    os.kill(km.provisioner.process.pid, signal.SIGINT)
    reply = kc.get_shell_msg(timeout=TIMEOUT)
    assert reply["parent_header"]["msg_id"] == msg_id
    assert reply["content"]["status"] == "error"
    assert km.is_alive()
    content, _ = run(kc, '"alive"')
    assert content["status"] == "ok"


def test_goroutine_panic_is_one_error_and_kernel_lives(kernel):
    _, kc = kernel
    code = 'import "sync"\nvar wg sync.WaitGroup\nwg.Add(1)\ngo func() {\n\tdefer wg.Done()\n\tvar m map[string]int\n\tm["x"] = 1\n}()\nwg.Wait()'
    content, msgs = run(kc, code)
    assert content["status"] == "error"
    errors = outputs(msgs, "error")
    assert len(errors) == 1
    assert "nil map" in errors[0]["evalue"]
    assert not [s for s in outputs(msgs, "stream") if "panic" in s["text"]]
    content, msgs = run(kc, "6 * 7")
    assert outputs(msgs, "execute_result")[0]["data"]["text/plain"] == "42"


def test_input_request(kernel):
    _, kc = kernel
    answers = []

    def stdin_hook(msg):
        answers.append(msg["content"]["prompt"])
        kc.input("gopher")

    content, msgs = run(kc, 'name, err := cell.Input("name? ")\nif err != nil {\n\tpanic(err)\n}\n"hi " + name',
                        allow_stdin=True, stdin_hook=stdin_hook)
    assert content["status"] == "ok", content
    assert answers == ["name? "]
    assert outputs(msgs, "execute_result")[0]["data"]["text/plain"] == "hi gopher"
    # fmt.Scanln reads through input requests too.
    content, msgs = run(kc, 'import "fmt"\nvar word string\nfmt.Scanln(&word)\nword', allow_stdin=True, stdin_hook=stdin_hook)
    assert outputs(msgs, "execute_result")[0]["data"]["text/plain"] == "gopher"
    # Without allow_stdin, input fails with an error instead of hanging.
    content, _ = run(kc, 'if _, err := cell.Input("x"); err == nil {\n\tpanic("no error")\n}', allow_stdin=False)
    assert content["status"] == "ok"


def test_comm_echo_and_info(kernel):
    _, kc = kernel
    comm_open = kc.session.msg("comm_open", {"comm_id": "c1", "target_name": "lightos.echo", "data": {}})
    kc.shell_channel.send(comm_open)
    comm_msg = kc.session.msg("comm_msg", {"comm_id": "c1", "data": {"ping": 1}})
    kc.shell_channel.send(comm_msg)
    deadline = time.time() + TIMEOUT
    echoed = None
    while time.time() < deadline and echoed is None:
        m = kc.get_iopub_msg(timeout=TIMEOUT)
        if m["msg_type"] == "comm_msg" and m["parent_header"].get("msg_id") == comm_msg["header"]["msg_id"]:
            echoed = m["content"]
    assert echoed == {"comm_id": "c1", "data": {"ping": 1}}
    msg_id = kc.comm_info()
    reply = kc.get_shell_msg(timeout=TIMEOUT)
    assert reply["parent_header"]["msg_id"] == msg_id
    assert reply["content"]["comms"] == {"c1": {"target_name": "lightos.echo"}}
    # An unknown target is closed at once.
    kc.shell_channel.send(kc.session.msg("comm_open", {"comm_id": "c2", "target_name": "nope", "data": {}}))
    while True:
        m = kc.get_iopub_msg(timeout=TIMEOUT)
        if m["msg_type"] == "comm_close":
            assert m["content"]["comm_id"] == "c2"
            break


def test_streams_coalesce_and_os_stdout_reaches_the_notebook(kernel):
    _, kc = kernel
    code = 'import (\n\t"fmt"\n\t"os"\n)\nfmt.Print("hello, ")\nfmt.Println("world")\nos.Stdout.WriteString("from os.Stdout\\n")'
    content, msgs = run(kc, code)
    streams = outputs(msgs, "stream")
    assert streams[0]["text"].startswith("hello, world\n")
    assert "from os.Stdout" in "".join(s["text"] for s in streams)


def test_shutdown_on_control(kernel):
    km, kc = kernel
    msg = kc.session.msg("shutdown_request", {"restart": False})
    kc.control_channel.send(msg)
    reply = kc.control_channel.get_msg(timeout=TIMEOUT)
    assert reply["msg_type"] == "shutdown_reply"
    assert reply["content"]["status"] == "ok"
    deadline = time.time() + 10
    while km.is_alive() and time.time() < deadline:
        time.sleep(0.1)
    assert not km.is_alive()


def test_stop_on_error_aborts_queued_cells(kernel):
    _, kc = kernel
    first = kc.execute('import "time"\ntime.Sleep(time.Second)\npanic("stop here")', stop_on_error=True)
    second = kc.execute('"should not run"')
    replies = {}
    while len(replies) < 2:
        r = kc.get_shell_msg(timeout=TIMEOUT)
        replies[r["parent_header"]["msg_id"]] = r["content"]
    assert replies[first]["status"] == "error"
    assert replies[second]["status"] == "aborted"
    content, _ = run(kc, "1")
    assert content["status"] == "ok"
