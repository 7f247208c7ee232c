#include "http/curl_http_client.h"

#include "gtest/gtest.h"
#include "http/private_address.h"

namespace herald::http {
namespace {

TEST(IsPrivateAddress, Table) {
  EXPECT_TRUE(IsPrivateAddress("127.0.0.1"));
  EXPECT_TRUE(IsPrivateAddress("10.1.2.3"));
  EXPECT_TRUE(IsPrivateAddress("172.16.0.1"));
  EXPECT_TRUE(IsPrivateAddress("172.31.255.255"));
  EXPECT_FALSE(IsPrivateAddress("172.32.0.1"));
  EXPECT_TRUE(IsPrivateAddress("192.168.1.1"));
  EXPECT_TRUE(IsPrivateAddress("169.254.169.254"));  // cloud metadata
  EXPECT_TRUE(IsPrivateAddress("100.64.0.1"));
  EXPECT_TRUE(IsPrivateAddress("0.0.0.0"));
  EXPECT_TRUE(IsPrivateAddress("224.0.0.1"));
  EXPECT_FALSE(IsPrivateAddress("8.8.8.8"));
  EXPECT_FALSE(IsPrivateAddress("93.184.216.34"));
  EXPECT_TRUE(IsPrivateAddress("::1"));
  EXPECT_TRUE(IsPrivateAddress("::"));
  EXPECT_TRUE(IsPrivateAddress("fe80::1"));
  EXPECT_TRUE(IsPrivateAddress("fd00::1"));
  EXPECT_TRUE(IsPrivateAddress("::ffff:127.0.0.1"));
  EXPECT_TRUE(IsPrivateAddress("::ffff:192.168.0.1"));
  EXPECT_FALSE(IsPrivateAddress("::ffff:8.8.8.8"));
  EXPECT_TRUE(IsPrivateAddress("64:ff9b::a00:1"));  // NAT64 of 10.0.0.1
  EXPECT_FALSE(IsPrivateAddress("2001:4860:4860::8888"));
  EXPECT_TRUE(IsPrivateAddress("not an address"));
}

}  // namespace
}  // namespace herald::http
