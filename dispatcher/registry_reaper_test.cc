#include "dispatcher/registry_reaper.h"

#include <thread>

#include "absl/synchronization/notification.h"
#include "gtest/gtest.h"

namespace herald::dispatcher {
namespace {

// Says on which thread it was destroyed.
class WitnessProvider : public providers::Provider {
 public:
  WitnessProvider(std::thread::id* destroyed_on, absl::Notification* destroyed)
      : destroyed_on_(destroyed_on), destroyed_(destroyed) {}
  ~WitnessProvider() override {
    *destroyed_on_ = std::this_thread::get_id();
    destroyed_->Notify();
  }
  void Push(const providers::PushRequest&, std::function<void(providers::Outcome)> done) override {
    done(providers::Outcome::Delivered());
  }

 private:
  std::thread::id* destroyed_on_;
  absl::Notification* destroyed_;
};

std::unique_ptr<const AppRegistry> Registry(std::thread::id* destroyed_on,
                                            absl::Notification* destroyed) {
  std::vector<App> apps;
  apps.push_back(App{"com.example.app", "witness",
                     std::make_unique<WitnessProvider>(destroyed_on, destroyed)});
  return std::make_unique<AppRegistry>(std::move(apps));
}

TEST(RegistryReaper, FreesARegistryOffTheThreadThatLetGoLast) {
  RegistryReaper reaper;
  std::thread::id destroyed_on;
  absl::Notification destroyed;
  std::shared_ptr<const AppRegistry> apps = reaper.Share(Registry(&destroyed_on, &destroyed));
  EXPECT_EQ(reaper.live(), 1);

  // The last copy goes on another thread, as a fan-out ending on an HTTP
  // client's loop thread would drop it.
  std::thread::id released_on;
  std::thread last_holder([held = std::move(apps), &released_on]() mutable {
    released_on = std::this_thread::get_id();
    held.reset();
  });
  last_holder.join();

  ASSERT_TRUE(reaper.WaitUntilAllFreed(absl::Seconds(10)));
  EXPECT_TRUE(destroyed.HasBeenNotified());
  EXPECT_NE(destroyed_on, released_on);
  EXPECT_NE(destroyed_on, std::this_thread::get_id());
  EXPECT_EQ(reaper.live(), 0);
}

TEST(RegistryReaper, WaitsForEveryCopy) {
  RegistryReaper reaper;
  std::thread::id destroyed_on;
  absl::Notification destroyed;
  std::shared_ptr<const AppRegistry> service_copy =
      reaper.Share(Registry(&destroyed_on, &destroyed));
  std::shared_ptr<const AppRegistry> push_copy = service_copy;

  service_copy.reset();  // a reload replaced it; a push still holds it
  EXPECT_FALSE(reaper.WaitUntilAllFreed(absl::ZeroDuration()));
  EXPECT_FALSE(destroyed.HasBeenNotified());
  EXPECT_EQ(reaper.live(), 1);

  push_copy.reset();
  EXPECT_TRUE(reaper.WaitUntilAllFreed(absl::Seconds(10)));
  EXPECT_TRUE(destroyed.HasBeenNotified());
}

TEST(RegistryReaper, ItsDestructorFreesWhatWasLetGo) {
  std::thread::id destroyed_on;
  absl::Notification destroyed;
  {
    RegistryReaper reaper;
    reaper.Share(Registry(&destroyed_on, &destroyed));  // dropped at once
  }
  EXPECT_TRUE(destroyed.HasBeenNotified());
  EXPECT_NE(destroyed_on, std::this_thread::get_id());
}

}  // namespace
}  // namespace herald::dispatcher
