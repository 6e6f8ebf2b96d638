namespace LitePcie.Hil.Reporting.Allure;

/// <summary>
/// Records one executable item (a test result or a fixture) as it runs: nested steps, attachments written to
/// the results as they arrive, start/stop from the injected clock. Thread-safe: an async test continues on
/// other threads.
/// </summary>
public sealed class AllureItemRecorder
{
    private readonly Lock _gate = new();
    private readonly Stack<AllureExecutableItem> _open = new();
    private readonly IAllureResultsWriter _writer;
    private readonly TimeProvider _time;

    /// <summary>Records steps and attachments into <paramref name="root"/>, writing attachments through <paramref name="writer"/>; times come from <paramref name="time"/> (the system clock when null).</summary>
    public AllureItemRecorder(AllureExecutableItem root, IAllureResultsWriter writer, TimeProvider? time = null)
    {
        Root = root;
        _writer = writer;
        _time = time ?? TimeProvider.System;
        root.Stage = AllureStage.Running;
        if (root.Start == 0)
        {
            root.Start = Now();
        }

        _open.Push(root);
    }

    /// <summary>The item being recorded.</summary>
    public AllureExecutableItem Root { get; }

    /// <summary>Steps open now (0 = only the item itself).</summary>
    public int Depth
    {
        get
        {
            lock (_gate)
            {
                return _open.Count - 1;
            }
        }
    }

    /// <summary>Whether <see cref="Finish"/> has run.</summary>
    public bool Finished { get; private set; }

    /// <summary>Milliseconds since the Unix epoch, from the injected clock.</summary>
    public long Now() => _time.GetUtcNow().ToUnixTimeMilliseconds();

    /// <summary>Opens a step inside the innermost open step (or the item).</summary>
    public void StartStep(string name, IEnumerable<AllureParameter>? parameters = null)
    {
        lock (_gate)
        {
            var step = new AllureStep { Name = name, Start = Now(), Stage = AllureStage.Running };
            if (parameters is not null)
            {
                step.Parameters.AddRange(parameters);
            }

            _open.Peek().Steps.Add(step);
            _open.Push(step);
        }
    }

    /// <summary>Closes the innermost open step; ignored when none is open.</summary>
    public void StopStep(AllureStatus status, AllureStatusDetails? details = null)
    {
        lock (_gate)
        {
            if (_open.Count <= 1)
            {
                return;
            }

            Close(_open.Pop(), status, details, AllureStage.Finished);
        }
    }

    /// <summary>Stores an attachment and links it to the innermost open step (or the item); returns its source name.</summary>
    public string Attach(string name, string mimeType, string extension, ReadOnlySpan<byte> content)
    {
        string source = _writer.WriteAttachment(extension, content);
        lock (_gate)
        {
            _open.Peek().Attachments.Add(new AllureAttachment(name, source, mimeType));
        }

        return source;
    }

    /// <summary>
    /// Ends the item. Steps still open were cut short by the end of the item: they are closed as broken and
    /// interrupted (their parent's status says why).
    /// </summary>
    public void Finish(AllureStatus status, AllureStatusDetails? details = null, AllureStage stage = AllureStage.Finished)
    {
        lock (_gate)
        {
            while (_open.Count > 1)
            {
                Close(_open.Pop(), AllureStatus.Broken, new AllureStatusDetails { Message = "step did not finish before the test ended" }, AllureStage.Interrupted);
            }

            Close(Root, status, details, stage);
            Finished = true;
        }
    }

    private void Close(AllureExecutableItem item, AllureStatus status, AllureStatusDetails? details, AllureStage stage)
    {
        item.Status = status;
        item.StatusDetails = details is { Message: null, Trace: null } ? null : details;
        item.Stage = stage;
        item.Stop = Math.Max(Now(), item.Start);
    }
}

/// <summary>
/// Records a fixture's container: its setups (<c>befores</c>) and teardowns (<c>afters</c>) with their steps,
/// and the tests they covered. Written whenever a fixture ends, so what is known survives a crash.
/// </summary>
public sealed class AllureContainerRecorder
{
    private readonly Lock _gate = new();
    private readonly IAllureResultsWriter _writer;
    private readonly TimeProvider _time;

    /// <summary>A container for the fixture <paramref name="name"/>, written through <paramref name="writer"/>; times come from <paramref name="time"/> (the system clock when null).</summary>
    public AllureContainerRecorder(string name, IAllureResultsWriter writer, TimeProvider? time = null)
    {
        _writer = writer;
        _time = time ?? TimeProvider.System;
        Container = new AllureContainer { Uuid = AllureIds.NewUuid(), Name = name, Start = _time.GetUtcNow().ToUnixTimeMilliseconds() };
    }

    /// <summary>The container as recorded so far.</summary>
    public AllureContainer Container { get; }

    /// <summary>Adds a test this container's fixtures covered.</summary>
    public void AddChild(string testUuid)
    {
        lock (_gate)
        {
            if (!Container.Children.Contains(testUuid))
            {
                Container.Children.Add(testUuid);
            }
        }
    }

    /// <summary>Begins a setup (<paramref name="before"/>) or teardown; end it with <see cref="AllureItemRecorder.Finish"/> then <see cref="Write"/>.</summary>
    public AllureItemRecorder BeginFixture(string name, bool before)
    {
        var fixture = new AllureFixtureResult { Name = name };
        var recorder = new AllureItemRecorder(fixture, _writer, _time);
        lock (_gate)
        {
            (before ? Container.Befores : Container.Afters).Add(fixture);
        }

        return recorder;
    }

    /// <summary>Writes (or rewrites) the container file.</summary>
    public void Write()
    {
        lock (_gate)
        {
            Container.Stop = _time.GetUtcNow().ToUnixTimeMilliseconds();
            _writer.WriteContainer(Container);
        }
    }
}
