#include <gtest/gtest.h>

#include <set>

#include "cembed/factory.h"
#include "cembed/spec.h"
#include "method_cases.h"
#include "util/check.h"

namespace cembed {
namespace {

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

TEST(Spec, ParsesNameAndKeysInOrder) {
  const Spec s = Spec::parse("qr:collisions=4,op=mult");
  EXPECT_EQ(s.name, "qr");
  ASSERT_EQ(s.params.size(), 2u);
  EXPECT_EQ(s.params[0].first, "collisions");
  EXPECT_EQ(s.get_int("collisions", 0), 4);
  EXPECT_EQ(s.get("op"), "mult");
  EXPECT_EQ(s.str(), "qr:collisions=4,op=mult");
}

TEST(Spec, ErrorsQuoteFragmentAndSpec) {
  EXPECT_NE(error_of([] { Spec::parse("hash:rows"); }).find("'rows' is not key=value"), std::string::npos);
  EXPECT_NE(error_of([] { Spec::parse("hash:rows=1,"); }).find("trailing ','"), std::string::npos);
  EXPECT_NE(error_of([] { Spec::parse("hash:rows=1,rows=2"); }).find("given twice"), std::string::npos);
  EXPECT_NE(error_of([] { Spec::parse(":rows=1"); }).find("method name"), std::string::npos);
  const std::string e = error_of([] { Spec::parse("hash:rows=12x").get_int("rows", 0); });
  EXPECT_NE(e.find("'rows=12x' is not an integer"), std::string::npos) << e;
}

TEST(Factory, UnknownMethodListsValidOnes) {
  const std::string e = error_of([] { make_table("lsh:k=2", {16, {100}}); });
  EXPECT_NE(e.find("unknown method 'lsh'"), std::string::npos) << e;
  EXPECT_NE(e.find("full"), std::string::npos);
  EXPECT_NE(e.find("hash"), std::string::npos);
  for (const MethodInfo& m : list_methods()) EXPECT_NE(e.find(m.name), std::string::npos) << m.name;
}

TEST(Factory, BadValuesOfTheNewMethodsAreClearErrors) {
  EXPECT_NE(error_of([] { make_table("qr:collisions=4,op=max", {8, {100}}); }).find("op 'max'"), std::string::npos);
  EXPECT_NE(error_of([] {
              make_table("cp:kind=mod,collisions=4", {8, {100}});
            }).find("partition kind 'mod'"),
            std::string::npos);
  EXPECT_NE(error_of([] {
              make_table("cp:parts=3,moduli=4x30", {8, {100}});
            }).find("parts=3 but 2 moduli"),
            std::string::npos);
  EXPECT_NE(error_of([] { make_table("memcom:rows=4,bias=huge", {8, {100}}); }).find("bias 'huge'"), std::string::npos);
  EXPECT_NE(error_of([] {
              make_table("lma:size=64,signature=cols", {8, {100}});
            }).find("signature kind 'cols'"),
            std::string::npos);
  EXPECT_NE(error_of([] {
              make_table("path:maps=500", {8, {100}});
            }).find("maps must be in [1, 100]"),
            std::string::npos);
}

TEST(Factory, UnknownKeyListsValidKeys) {
  const std::string e = error_of([] { make_table("hash:rowz=10", {16, {100}}); });
  EXPECT_NE(e.find("no key 'rowz'"), std::string::npos) << e;
  EXPECT_NE(e.find("rows, seed"), std::string::npos) << e;
}

TEST(Factory, UnsizedSpecNeedsBudget) {
  const std::string e = error_of([] { make_table("hash", {16, {100}}); });
  EXPECT_NE(e.find("has no size"), std::string::npos) << e;
}

TEST(Factory, SpecRoundTrips) {
  for (const testing::MethodCase& c : testing::method_cases()) {
    auto t = make_table(c.spec, c.shape());
    EXPECT_EQ(t->spec(), c.spec);
    EXPECT_EQ(t->method(), c.method());
    auto again = make_table(t->spec(), c.shape());
    EXPECT_EQ(again->spec(), c.spec);
    EXPECT_EQ(again->parameter_bytes(), t->parameter_bytes()) << c.spec;
    EXPECT_EQ(spec_parameter_bytes(Spec::parse(c.spec), c.shape()), t->parameter_bytes()) << c.spec;
  }
}

// The case table covers the registry: every registered method has a case and a training
// case, and every case names a registered method.
TEST(MethodCases, EveryRegisteredMethodHasACase) {
  std::set<std::string> registered, tested, trained;
  for (const MethodInfo& m : list_methods()) registered.insert(m.name);
  for (const testing::MethodCase& c : testing::method_cases()) {
    EXPECT_TRUE(registered.contains(c.method())) << c.spec << ": no such method in the registry";
    tested.insert(c.method());
    if (c.grids & testing::kTrain) trained.insert(c.method());
  }
  for (const std::string& name : registered) {
    EXPECT_TRUE(tested.contains(name)) << name << " has no case in tests/cpp/method_cases.h";
    EXPECT_TRUE(trained.contains(name)) << name << " has no training case (kTrain) in tests/cpp/method_cases.h";
  }
}

TEST(MethodCases, UnsizedSpecDropsOnlyTheSizeKeys) {
  EXPECT_EQ(testing::unsized_spec("qr:collisions=9,op=concat"), "qr:op=concat");
  EXPECT_EQ(testing::unsized_spec("hash:rows=5,seed=9"), "hash:seed=9");
  EXPECT_EQ(testing::unsized_spec("cp:moduli=4x3x5,op=concat"), "cp:op=concat");
  EXPECT_EQ(testing::unsized_spec("full"), "full");
}

TEST(Factory, ParameterBytesMatchFormula) {
  EXPECT_EQ(make_table("full", {16, {1234}})->parameter_bytes(), 1234 * 16 * 4);
  EXPECT_EQ(make_table("hash:rows=100", {16, {1234}})->parameter_bytes(), 100 * 16 * 4);
  EXPECT_EQ(spec_parameter_bytes(Spec::parse("hash:rows=100"), {16, {1234}}), 100 * 16 * 4);
}

TEST(Factory, OptimizerBytesAreExact) {
  auto t = make_table("hash:rows=100", {16, {1234}});
  t->set_optimizer({OptimizerKind::Sgd});
  EXPECT_EQ(t->optimizer_bytes(), 0);
  t->set_optimizer({OptimizerKind::Adagrad});
  EXPECT_EQ(t->optimizer_bytes(), 100 * 16 * 4);
  t->set_optimizer({OptimizerKind::RowwiseAdagrad});
  EXPECT_EQ(t->optimizer_bytes(), 100 * 4);
}

}  // namespace
}  // namespace cembed
