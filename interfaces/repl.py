"""`kb chat`: a terminal chat over the knowledge base.

Interactive (stdin and stdout are terminals): a prompt_toolkit prompt with line editing and history
kept in KB_HOME/chat_history; answers stream token by token when a model is configured (a spinner
while the offline backend retrieves), then render as rich Markdown whose citations are hyperlinks
to the video second. Ctrl-C cancels the answer being made (or clears the line), Ctrl-D leaves.

Scripted (stdin not a terminal): every non-empty input line is a question (or a /command), each
answer is printed — as plain text when stdout is not a terminal — and the command exits at EOF.

Commands: /sources /source [ID] /new /threads /thread ID /help /quit. `/source ID` asks only that
document from then on (`kb chat --source ID` starts so); `/source` alone goes back to all of them.
"""

from __future__ import annotations

import sqlite3
import sys
import threading
import uuid
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import IO, Any

from rich.console import Console, Group, RenderableType
from rich.live import Live
from rich.markup import escape
from rich.spinner import Spinner
from rich.text import Text

from agent.models import AnswerCancelled
from interfaces import render
from interfaces.threads import saved_threads
from kb.exit_codes import EXIT_INPUT, EXIT_INTERRUPTED, EXIT_OK, EXIT_UNAVAILABLE

PROMPT = "kb> "
HELP = [
    ("/sources", "the passages behind the last answer, with times and links"),
    ("/source ID", "ask only this document from now on; /source alone: all documents again"),
    ("/brief [SOURCE]", "an episode's brief (default: the episode the last answer cites)"),
    ("/new", "start a fresh conversation thread"),
    ("/threads", "list saved conversations"),
    ("/thread ID", "resume a saved conversation"),
    ("/help", "this list"),
    ("/quit", "leave (or Ctrl-D); Ctrl-C cancels the answer being made"),
]
COMMANDS = [c.split()[0] for c, _ in HELP]
_EVENT_TEXT = {"search_knowledge_base": "searching the knowledge base", "calculate": "calculating"}


def new_thread_id() -> str:
    return uuid.uuid4().hex[:12]


def _unavailable_errors() -> tuple[type[BaseException], ...]:
    from agent.models import ModelUnavailable
    from kb.errors import EmbeddingUnavailable, StoreUnavailable

    return (ModelUnavailable, StoreUnavailable, EmbeddingUnavailable)


class Repl:
    """One chat session: the current thread, the last answer, and how to show things."""

    def __init__(self, agent: Any, console: Console, *, settings: Any = None, thread_id: str | None = None,
                 err_console: Console | None = None, log: bool = True, interactive: bool = True,
                 source: str | None = None) -> None:
        self.agent = agent
        self.ask_fn: Callable[..., Any] = agent.ask if hasattr(agent, "ask") else agent
        self.settings = settings if settings is not None else getattr(agent, "settings", None)
        self.console = console
        self.err = err_console or console
        self.log = log and self.settings is not None
        self.interactive = interactive  # Ctrl-C cancels one answer; scripted, it stops the run
        self.thread_id = thread_id or new_thread_id()
        self.source = source  # the document every question is asked of, or None for all
        self.last: Any = None
        self.status = EXIT_OK  # for scripted runs: 3 if the store or model was unavailable, 1 on other errors
        # stream tokens unless the backend is known to produce its text all at once
        self.stream = getattr(agent, "backend", None) != "offline"

    # ---- questions -------------------------------------------------------------------------------

    def handle(self, line: str) -> bool:
        """Act on one input line; False when the session should end."""
        line = line.strip()
        if not line:
            return True
        if line.startswith("/"):
            return self.command(line)
        self.ask(line)
        return True

    def ask(self, question: str) -> Any:
        """Answer `question` in the current thread, showing progress; None if it failed or was cancelled."""
        unavailable = _unavailable_errors()
        try:
            result = self._run(question)
        except KeyboardInterrupt:
            if not self.interactive:
                raise
            self.console.print(Text("(cancelled)", style="yellow") if self.console.is_terminal else "(cancelled)")
            return None
        except unavailable as exc:
            self.status = EXIT_UNAVAILABLE
            self._error(str(exc))
            return None
        except Exception as exc:  # keep the session: one line, not a traceback
            if self.status != EXIT_UNAVAILABLE:
                self.status = EXIT_INPUT
            self._error(f"{type(exc).__name__}: {exc}")
            return None
        self.last = result
        if getattr(result, "thread_id", None):
            self.thread_id = result.thread_id
        render.print_answer(self.console, result)
        if not self.console.is_terminal:
            self.console.print()
        if self.log:
            try:
                from interfaces.log import record

                record(self.settings, "chat", result)
            except (sqlite3.Error, OSError) as exc:
                self._error(f"could not log the question: {exc}")
        return result

    def _run(self, question: str) -> Any:
        """Run the answer in a worker thread; Ctrl-C (KeyboardInterrupt here) abandons it."""
        box: dict[str, Any] = {}
        done = threading.Event()
        cancelled = threading.Event()
        show = self.console.is_terminal
        state = {"text": "", "status": "thinking"}
        live = Live(self._progress(state), console=self.console, transient=True, refresh_per_second=12) if show else None

        def on_token(token: str) -> None:
            if cancelled.is_set():
                raise AnswerCancelled  # stops the model's stream: no more tokens are paid for
            if live is None:
                return
            state["text"] += token
            live.update(self._progress(state))

        def on_event(kind: str, data: dict[str, Any]) -> None:
            if cancelled.is_set():
                raise AnswerCancelled  # the graph stops before its next step; the turn is not saved
            if live is None:
                return
            if kind in ("tool", "retrieve"):
                state["status"] = _EVENT_TEXT.get(str(data.get("name")), f"running {data.get('name')}")
            elif kind == "thinking":
                state["status"], state["text"] = "thinking", ""  # a new model round: show only its tokens
            live.update(self._progress(state))

        def work() -> None:
            try:
                scope = {"source": self.source} if self.source else {}
                box["result"] = self.ask_fn(question, thread_id=self.thread_id,
                                            on_token=on_token if self.stream and show else None, on_event=on_event, **scope)
            except BaseException as exc:  # handed to the waiting thread
                box["error"] = exc
            finally:
                done.set()

        worker = threading.Thread(target=work, name="kb-answer", daemon=True)
        if live is not None:
            live.start()
        try:
            worker.start()
            while not done.wait(0.05):
                pass
        except KeyboardInterrupt:
            cancelled.set()
            raise
        finally:
            if live is not None:
                live.stop()
        if "error" in box:
            raise box["error"]
        return box["result"]

    def _progress(self, state: dict[str, str]) -> RenderableType:
        if state["text"]:
            return render.Tail(state["text"])
        return Spinner("dots", text=Text(f"{state['status']}…", style="dim"))

    # ---- commands --------------------------------------------------------------------------------

    def command(self, line: str) -> bool:
        name, _, arg = line.partition(" ")
        name, arg = name.lower(), arg.strip()
        if name in ("/quit", "/exit", "/q"):
            return False
        if name in ("/help", "/?"):
            self.show_help()
        elif name == "/sources":
            self.show_sources()
        elif name == "/source":
            self.set_source(arg.split()[0] if arg else None)
        elif name == "/brief":
            show_brief(self, arg)
        elif name == "/new":
            self.thread_id, self.last = new_thread_id(), None
            self._info(f"new thread {self.thread_id}")
        elif name == "/threads":
            self.show_threads()
        elif name == "/thread":
            if not arg:
                self._info(f"current thread {self.thread_id} (use /thread ID to resume another; /threads lists them)")
            else:
                self.resume(arg.split()[0])
        else:
            self._error(f"unknown command {name}; /help lists the commands")
        return True

    def set_source(self, source: str | None) -> None:
        """Scope the following questions to one document (None: all of them again)."""
        if source is None:
            was, self.source = self.source, None
            self._info(f"asking all documents again (was {was})" if was else "asking all documents; /source ID asks only one")
            return
        check = getattr(self.agent, "check_source", None)
        if check is not None:
            try:
                check(source)
            except Exception as exc:  # UnknownSource, or the store is down: say so, keep the old scope
                self._error(str(exc))
                return
        self.source = source
        self._info(f"asking only {source} (/source alone: all documents)")

    def show_help(self) -> None:
        if self.console.is_terminal:
            self.console.print(Group(*(Text.assemble((f"  {c:<12}", "bold"), d) for c, d in HELP)))
        else:
            self.console.print("\n".join(f"  {c:<12}{d}" for c, d in HELP), markup=False, highlight=False)

    def show_sources(self) -> None:
        passages = list(getattr(self.last, "passages", None) or [])
        if self.console.is_terminal:
            self.console.print(render.render_passages(passages))
        else:
            self.console.print(render.plain_passages(passages), markup=False, highlight=False, soft_wrap=True)

    def _history(self, thread_id: str) -> list[dict[str, Any]]:
        history = getattr(self.agent, "history", None)
        if history is None:
            return []
        try:
            return list(history(thread_id) or [])
        except Exception:  # a thread saved by another version, or an unreadable checkpoint
            return []

    def show_threads(self) -> None:
        # the agent's own checkpointer when it has one, else the database the settings name
        where = getattr(self.agent, "checkpointer", None) or getattr(self.settings, "threads_path", None)
        ids = saved_threads(where) if where is not None else []
        if not ids:
            self._info("no saved conversations yet")
            return
        lines: list[tuple[str, str]] = []
        for tid in ids:
            questions = [m.get("content", "") for m in self._history(tid) if m.get("role") == "user"]
            first = " ".join(str(questions[0]).split()) if questions else ""
            if len(first) > 70:
                first = first[:69] + "…"
            mark = "*" if tid == self.thread_id else " "
            turns = f"{len(questions)} question{'s' if len(questions) != 1 else ''}" if questions else ""
            lines.append((f"{mark} {tid}", f"  {turns:<13} {first}".rstrip()))
        if self.console.is_terminal:
            self.console.print(Group(*(Text.assemble((a, "bold"), (b, "")) for a, b in lines)))
            self.console.print(Text("/thread ID resumes one", style="dim"))
        else:
            self.console.print("\n".join(a + b for a, b in lines), markup=False, highlight=False, soft_wrap=True)

    def resume(self, thread_id: str) -> None:
        self.thread_id, self.last = thread_id, None
        questions = [m.get("content", "") for m in self._history(thread_id) if m.get("role") == "user"]
        if questions:
            last = " ".join(str(questions[-1]).split())
            self._info(f"resumed thread {thread_id}: {len(questions)} earlier question(s), last: {last}")
        else:
            self._info(f"thread {thread_id}: no saved questions, starting it")

    # ---- output ----------------------------------------------------------------------------------

    def _info(self, msg: str) -> None:
        if self.console.is_terminal:
            self.console.print(f"[dim]{escape(msg)}[/dim]", highlight=False)
        else:
            self.console.print(msg, markup=False, highlight=False, soft_wrap=True)

    def _error(self, msg: str) -> None:
        line = " ".join(msg.split())
        if self.err.is_terminal:
            self.err.print(f"[red]error:[/red] {escape(line)}", highlight=False)
        else:
            self.err.print(f"kb: {line}", markup=False, highlight=False, soft_wrap=True)

    def banner(self) -> None:
        backend = getattr(self.agent, "backend", None)
        bits = (["kb chat", f"thread {self.thread_id}"] + ([backend] if backend else []) + ([f"source {self.source}"] if self.source else [])
                + ["/help for commands, Ctrl-D to leave"])
        self._info(" · ".join(bits))


def show_brief(repl: Repl, source: str) -> None:
    """`/brief [SOURCE]`: an episode's brief; without SOURCE, the current scope or the episode the
    last answer cites."""
    from agent.brief.build import get_brief
    from agent.brief.document import UnknownSource
    from agent.brief.markdown import brief_markdown

    cited = [c.get("source") for c in (getattr(repl.last, "citations", None) or []) if c.get("source")]
    source = source or getattr(repl, "source", None) or (cited[0] if cited else "")  # the scope, if the chat has one
    if not source:
        repl._error("/brief SOURCE: name a document (`kb sources` lists them)")
        return
    try:
        md = brief_markdown(get_brief(source, repl.settings))
    except (UnknownSource, *_unavailable_errors()) as exc:
        repl._error(str(exc))
        return
    if repl.console.is_terminal:
        from rich.markdown import Markdown

        repl.console.print(Markdown(md, hyperlinks=True))
    else:
        repl.console.print(md, markup=False, highlight=False, soft_wrap=True)


def _slash_completer() -> Any:
    """Completes /commands at the start of the line (prompt_toolkit is only imported interactively)."""
    from prompt_toolkit.completion import Completer, Completion

    class SlashCompleter(Completer):
        def get_completions(self, document: Any, complete_event: Any) -> Iterator[Any]:
            text = document.text_before_cursor
            if text.startswith("/") and " " not in text:
                for c in COMMANDS:
                    if c.startswith(text):
                        yield Completion(c, start_position=-len(text))

    return SlashCompleter()


def _prompt_loop(repl: Repl, session: Any) -> int:
    while True:
        try:
            line = session.prompt(PROMPT)
        except KeyboardInterrupt:  # Ctrl-C at the prompt clears the line
            continue
        except EOFError:  # Ctrl-D
            return EXIT_OK
        if not repl.handle(line):
            return EXIT_OK


def _line_loop(repl: Repl, lines: Iterable[str]) -> int:
    try:
        for line in lines:
            if repl.console.is_terminal and line.strip() and not line.lstrip().startswith("/"):
                repl.console.print(Text(PROMPT + line.strip(), style="bold"))  # piped in, shown on a terminal
            if not repl.handle(line):
                break
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
    return repl.status


def run_repl(agent: Any, *, input: Any = None, output: IO[str] | Console | None = None, settings: Any = None,
             thread_id: str | None = None, history_path: Path | None = None, prompt_output: Any = None,
             interactive: bool | None = None, log: bool = True, err: IO[str] | Console | None = None,
             source: str | None = None) -> int:
    """Run the chat loop with `agent` (an object with `ask(question, thread_id, on_token, on_event)`,
    like `agent.answer.Agent`, or a function with that signature); returns the exit status.

    `input`: a prompt_toolkit `Input` (interactive, e.g. `create_pipe_input()`), a text stream (one
    question or /command per line), or None for stdin. `output`: a text stream or rich Console for
    answers (default stdout). Interactive mode is used for a prompt_toolkit input, or for stdin when
    both stdin and stdout are terminals, unless `interactive` says otherwise. Scripted mode exits 3
    when a question failed because the store or model was unavailable, 1 when one failed otherwise.
    """
    console = output if isinstance(output, Console) else Console(file=output or sys.stdout)
    err_console = err if isinstance(err, Console) else Console(file=err or sys.stderr)
    if input is None:
        stream: Any = sys.stdin
        is_pt_input = False
    else:
        stream = input
        is_pt_input = not hasattr(input, "readline") and hasattr(input, "read_keys")
    if interactive is None:
        interactive = is_pt_input or (stream is sys.stdin and _isatty(sys.stdin) and console.is_terminal)
    repl = Repl(agent, console, settings=settings, thread_id=thread_id, err_console=err_console if not interactive else console,
                log=log, interactive=interactive, source=source)
    if interactive:
        repl.banner()
    if thread_id:
        if interactive:
            repl.resume(thread_id)
        else:
            repl.thread_id = thread_id
    if not interactive:
        return _line_loop(repl, stream)

    from prompt_toolkit import PromptSession
    from prompt_toolkit.auto_suggest import AutoSuggestFromHistory
    from prompt_toolkit.history import FileHistory, InMemoryHistory

    history: Any = InMemoryHistory()
    if history_path is not None:
        history_path.parent.mkdir(parents=True, exist_ok=True)
        history = FileHistory(str(history_path))
    session: Any = PromptSession(history=history, auto_suggest=AutoSuggestFromHistory(),
                                 completer=_slash_completer(), complete_while_typing=True,
                                 input=input if is_pt_input else None, output=prompt_output)
    return _prompt_loop(repl, session)


def _isatty(stream: Any) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False


def main(settings: Any, thread_id: str | None = None, source: str | None = None) -> int:
    """`kb chat [--thread ID] [--source ID]`: one `Agent` for the session (model and index stay warm)."""
    from agent.answer import Agent
    from kb.errors import UnknownSource

    try:
        agent = Agent(settings)
        if source:
            agent.check_source(source)
    except _unavailable_errors() as exc:
        print(f"kb: {exc}", file=sys.stderr)
        return EXIT_UNAVAILABLE
    except UnknownSource as exc:
        print(f"kb: {exc}", file=sys.stderr)
        return EXIT_INPUT
    threading.Thread(target=_warm, args=(agent,), name="kb-chat-warm", daemon=True).start()  # while the user types
    return run_repl(agent, settings=settings, thread_id=thread_id, history_path=settings.home / "chat_history", source=source)


def _warm(agent: Any) -> None:
    try:
        agent.warm()
    except Exception:  # noqa: BLE001 - the first question reports what is wrong, in its own words
        pass


__all__ = ["Repl", "main", "run_repl", "saved_threads"]
