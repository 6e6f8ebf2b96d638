using System.Reflection;
using System.Text.RegularExpressions;
using System.Xml.Linq;
using FluentAssertions;
using LitePcie.Hil.Options;
using NUnit.Framework;

namespace LitePcie.Hil.Tests.Fixtures;

/// <summary>
/// An option's property has two texts: the XML summary a suite author reads in the editor and the <see cref="OptionAttribute"/>
/// description the binder and the runsettings table read. They say the same thing, or one of them is stale.
/// </summary>
[TestFixture]
public sealed partial class OptionDocsTests
{
    [Test]
    public void Every_option_property_summary_says_what_its_option_attribute_says()
    {
        var assembly = typeof(HilOptions).Assembly;
        string docFile = Path.ChangeExtension(assembly.Location, ".xml");
        File.Exists(docFile).Should().BeTrue($"the library that declares the options generates its XML docs ({docFile})");
        var summaries = XDocument.Load(docFile).Descendants("member")
            .Where(m => m.Element("summary") is not null)
            .ToDictionary(m => (string)m.Attribute("name")!, m => Normalise(m.Element("summary")!.Nodes().Select(n => n switch { XElement e => e.Value, XText t => t.Value, _ => "" })));

        var options = assembly.GetTypes()
            .SelectMany(t => t.GetProperties(BindingFlags.Public | BindingFlags.Instance | BindingFlags.DeclaredOnly))
            .Select(p => (Property: p, Option: p.GetCustomAttribute<OptionAttribute>()))
            .Where(x => x.Option is not null)
            .ToList();
        options.Should().HaveCountGreaterThan(40, "HilOptions declares every runsettings parameter with [Option]");

        var stale = options
            .Select(x => (Member: $"P:{x.Property.DeclaringType!.FullName}.{x.Property.Name}", Doc: Normalise([Markdown().Replace(x.Option!.Doc, "")])))
            .Where(x => !summaries.TryGetValue(x.Member, out var summary) || summary != x.Doc)
            .Select(x => $"{x.Member}: [Option] says \"{x.Doc}\", the summary says \"{summaries.GetValueOrDefault(x.Member, "(none)")}\"")
            .ToList();
        stale.Should().BeEmpty("each option's XML summary is its [Option] description in XML (`code` as <c>code</c>, no **bold**)");
    }

    private static string Normalise(IEnumerable<string> parts) =>
        Whitespace().Replace(string.Concat(parts), " ").Trim().TrimEnd('.');

    [GeneratedRegex(@"`|\*\*")]
    private static partial Regex Markdown();

    [GeneratedRegex(@"\s+")]
    private static partial Regex Whitespace();
}
