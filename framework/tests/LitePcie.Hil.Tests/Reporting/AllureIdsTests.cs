using System.Security.Cryptography;
using System.Text;
using FluentAssertions;
using LitePcie.Hil.Reporting.Allure;
using NUnit.Framework;

namespace LitePcie.Hil.Tests.Reporting;

/// <summary>Test identity as Allure's .NET adapters compute it (docs/suites.md#the-report-allure, identity).</summary>
[TestFixture]
public sealed class AllureIdsTests
{
    [Test]
    public void Full_name_is_assembly_namespace_class_method_and_parameter_types()
    {
        var m = typeof(Sample).GetMethod(nameof(Sample.Loopback))!;
        AllureIds.FullName(typeof(Sample), m).Should().Be(
            "LitePcie.Hil.Tests:LitePcie.Hil.Tests.Reporting.AllureIdsTests+Sample.Loopback(System.Int32,System.String,LitePcie.Hil.Tests:LitePcie.Hil.Tests.Reporting.AllureIdsTests+Sample)",
            "system types carry no assembly prefix, nested types use '+', our own types carry their assembly");
        var generic = typeof(Sample).GetMethod(nameof(Sample.Generic))!.MakeGenericMethod(typeof(long));
        AllureIds.FullName(typeof(Sample), generic).Should().Be("LitePcie.Hil.Tests:LitePcie.Hil.Tests.Reporting.AllureIdsTests+Sample.Generic[T](T)",
            "a constructed generic method is named by its definition");
    }

    [Test]
    public void Test_case_id_is_md5_of_the_full_name()
    {
        AllureIds.TestCaseId("A:B.C.M()").Should().Be(Md5("A:B.C.M()")).And.MatchRegex("^[0-9a-f]{32}$");
    }

    [Test]
    public void History_id_hashes_full_name_and_non_excluded_values_ordered_by_name()
    {
        AllureParameter[] p =
        [
            new("irqEvery", "32"),
            new("buffers", "4096"),
            new("device", "0000:01:00.0") { Excluded = true },
        ];
        AllureIds.HistoryId("A:B.C.M(System.Int32,System.Int32)", p)
            .Should().Be(Md5("{\"fullName\":\"A:B.C.M(System.Int32,System.Int32)\",\"parameters\":[\"4096\",\"32\"]}"));
        AllureIds.HistoryId("X", p).Should().Be(AllureIds.HistoryId("X", p.Reverse()), "order of declaration does not matter");
        AllureIds.HistoryId("X", p).Should().Be(AllureIds.HistoryId("X", p[..2]), "an excluded parameter (bus address, serial) does not change history");
        AllureIds.HistoryId("X", p).Should().NotBe(AllureIds.HistoryId("X", [new("irqEvery", "8"), new("buffers", "4096")]));
    }

    [Test]
    public void Uuids_are_fresh_guids()
    {
        var a = AllureIds.NewUuid();
        Guid.TryParseExact(a, "D", out _).Should().BeTrue();
        a.Should().NotBe(AllureIds.NewUuid());
    }

    [System.Diagnostics.CodeAnalysis.SuppressMessage("Security", "CA5351", Justification = "recomputes Allure's MD5 identity")]
    private static string Md5(string s) => Convert.ToHexStringLower(MD5.HashData(Encoding.UTF8.GetBytes(s)));

    public sealed class Sample
    {
        public void Loopback(int buffers, string mode, Sample other) => _ = (buffers, mode, other);

        public void Generic<T>(T value) => _ = value;
    }
}
